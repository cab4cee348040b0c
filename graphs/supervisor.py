"""Assemble the supervisor graph: guard, route, fan out with `Send`, merge answers, guard again.

Shape: START → input_guard → supervisor (or refuse) → agents → respond → output_guard → END;
clarify and refuse also end through output_guard.

Usage:
    graph = build_supervisor_graph(router, registry, auditor, guards).compile(checkpointer=saver)
    graph.invoke({"messages": [HumanMessage("hi")]}, {"configurable": {"thread_id": "t1"}})
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from langchain_core.messages import AIMessage, AnyMessage, HumanMessage
from langchain_core.runnables import Runnable
from langgraph.graph import END, START, StateGraph
from langgraph.types import Send
from typing_extensions import TypedDict

from agents.registry import AgentRegistry, AgentTask, not_installed_answer
from agents.supervisor import SupervisorRouter
from graphs.audit_hooks import GraphAuditor
from graphs.guard_nodes import (
    INPUT_GUARD,
    OUTPUT_GUARD,
    REFUSE,
    GraphGuards,
    after_input_guard,
    input_guard_node,
    output_guard_node,
    refuse,
    route_size_check,
)
from state.errors import InputError
from state.schema import (
    INTENTS,
    AgentAnswer,
    Attachment,
    Intent,
    MedGraphState,
    PhiVault,
    PolicyLedger,
    RoutePlan,
    RouteTask,
)

SUPERVISOR = "supervisor"
CLARIFY = "clarify"
RESPOND = "respond"


class AgentInput(TypedDict):
    """What `Send` hands one agent node: its task, its place in the plan, and the history.

    The PHI vault and the policy ledger are read only by the policy node (gated actions).
    """

    task: RouteTask
    order: int
    messages: list[AnyMessage]
    user_id: str
    tenant_id: str
    attachments: list[Attachment]
    phi_vault: PhiVault | None
    policy: PolicyLedger


def latest_user_text(messages: Sequence[AnyMessage]) -> str:
    """The text of the newest human message (text parts only for multimodal content)."""
    for message in reversed(messages):
        if isinstance(message, HumanMessage):
            if isinstance(message.content, str):
                return message.content
            return " ".join(
                part["text"]
                for part in message.content
                if isinstance(part, dict) and part.get("type") == "text"
            )
    raise InputError("the conversation has no user message to answer")


def answer_message(answer: AgentAnswer) -> AIMessage:
    """One agent's answer as a chat message named after the agent."""
    return AIMessage(
        content=answer.text,
        name=answer.agent,
        response_metadata={
            "agent": answer.agent,
            "needs_human": answer.needs_human,
            "citations": answer.citations,
        },
    )


def escalation_plan(text: str) -> RoutePlan:
    """The plan for a message the input guard escalated: the fixed escalate path, no model."""
    return RoutePlan(
        tasks=[RouteTask(intent="escalate", text=text, confidence=1.0)],
        method="safety",
        confidence=1.0,
    )


def with_image_route(plan: RoutePlan, text: str, attachments: Sequence[Attachment]) -> RoutePlan:
    """An attached image always reaches radiology: it replaces a clarify or general-only plan,
    and joins a plan of other specialists. Escalations are left as they are."""
    if not any(a.kind == "image" for a in attachments) or plan.method == "safety":
        return plan
    if any(t.intent in ("radiology", "escalate") for t in plan.tasks):
        return plan
    radiology = RouteTask(intent="radiology", text=text, confidence=1.0)
    kept = [t for t in plan.tasks if t.intent != "general"]
    return plan.model_copy(
        update={"tasks": [*kept, radiology], "clarify_question": None, "confidence": 1.0}
    )


AwaitingAnswer = Callable[[str, str], Intent | None]
"""Which agent, if any, is waiting for this (user, tenant)'s answer (the tutor's open question)."""

DIRECT_METHODS = ("embedding", "documents_match")
"""Routes the classifier (or a documents match) chose from the message alone."""

DocumentsMatch = Callable[[str, str], bool]
"""Whether this tenant's own documents hold a passage that closely matches the text (tenant,
text)."""


def with_documents_match(plan: RoutePlan, text: str, matches: Callable[[], bool]) -> RoutePlan:
    """Send a question the classifier gave to the tutor or the general agent to the documents
    agent when the user's own documents closely match it.

    The classifier sees only the words: "What premedication do patients with a prior contrast
    reaction need?" reads like teaching material, although the user's handbook answers it.
    Only a question ("…?") routed by the embedding classifier to one of those two agents is
    checked, so `matches` (a search) runs only then.
    """
    if plan.method != "embedding" or len(plan.tasks) != 1 or not text.rstrip().endswith("?"):
        return plan
    task = plan.tasks[0]
    if task.intent not in ("tutor", "general") or not matches():
        return plan
    return plan.model_copy(
        update={
            "tasks": [task.model_copy(update={"intent": "documents"})],
            "method": "documents_match",
        }
    )


def with_continuation(
    plan: RoutePlan, text: str, owner: Intent | None, attachments: Sequence[Attachment]
) -> RoutePlan:
    """Send the message to the agent that awaits an answer from this user.

    Left alone: escalations, turns with an image, and questions (ending in "?") that the
    classifier routed directly to another specialist: the learner asked something else.
    """
    if owner is None or plan.method == "safety":
        return plan
    if any(t.intent == "escalate" for t in plan.tasks) or any(
        a.kind == "image" for a in attachments
    ):
        return plan
    elsewhere = any(t.intent not in (owner, "general") for t in plan.tasks)
    if elsewhere and plan.method in DIRECT_METHODS and text.rstrip().endswith("?"):
        return plan
    return RoutePlan(
        tasks=[RouteTask(intent=owner, text=text, confidence=1.0)],
        method="continuation",
        confidence=1.0,
        scores=plan.scores,
    )


def build_supervisor_graph(
    router: SupervisorRouter,
    registry: AgentRegistry,
    auditor: GraphAuditor | None = None,
    guards: GraphGuards | None = None,
    agent_nodes: Mapping[Intent, Runnable] | None = None,
    awaiting: AwaitingAnswer | None = None,
    documents_match: DocumentsMatch | None = None,
) -> StateGraph[MedGraphState]:
    """The supervisor graph; compile it with a checkpointer.

    `auditor` records route and guard decisions; `guards=None` leaves the guard nodes in place
    but lets everything through (tests of graph logic, and the benchmark's baseline).
    `agent_nodes` replaces an intent's node with a subgraph that does more than answer (the
    policy subgraph, which pauses for human approval and writes the policy ledger).
    `awaiting` names the agent that waits for the user's answer; see `with_continuation`.
    `documents_match` says whether the tenant's documents closely match a question; see
    `with_documents_match`.
    """

    def supervisor(state: MedGraphState) -> dict[str, object]:
        text = latest_user_text(state.get("messages", []))
        outcome = state.get("guard")
        if outcome is not None and outcome.action == "escalate":
            plan = escalation_plan(text)
        else:
            attachments = state.get("attachments", [])
            routed = with_image_route(router.route(text), text, attachments)
            if documents_match is not None:
                tenant = state.get("tenant_id", "")
                routed = with_documents_match(routed, text, lambda: documents_match(tenant, text))
            if awaiting is not None:
                owner = awaiting(state.get("user_id", ""), state.get("tenant_id", ""))
                routed = with_continuation(routed, text, owner, attachments)
            plan, decisions = route_size_check(guards, routed)
            for decision in decisions if auditor is not None else []:
                auditor.guard(decision)
        if auditor is not None:
            auditor.route(plan)
        return {"route": plan, "answers": None}

    def dispatch(state: MedGraphState) -> list[Send] | str:
        plan = state["route"]
        if plan is None or not plan.tasks:
            return CLARIFY
        return [
            Send(
                task.intent,
                AgentInput(
                    task=task,
                    order=order,
                    messages=state.get("messages", []),
                    user_id=state.get("user_id", ""),
                    tenant_id=state.get("tenant_id", ""),
                    attachments=state.get("attachments", []),
                    phi_vault=state.get("phi_vault"),
                    policy=state.get("policy") or PolicyLedger(),
                ),
            )
            for order, task in enumerate(plan.tasks)
        ]

    def clarify(state: MedGraphState) -> dict[str, object]:
        plan = state["route"]
        question = (
            plan.clarify_question if plan and plan.clarify_question else "Could you say more?"
        )
        return {"messages": [AIMessage(content=question, name=SUPERVISOR)]}

    def respond(state: MedGraphState) -> dict[str, object]:
        answers = sorted(state.get("answers", []), key=lambda a: a.order)
        return {"messages": [answer_message(a) for a in answers], "answers": None}

    builder: StateGraph[MedGraphState] = StateGraph(MedGraphState)
    builder.add_node(INPUT_GUARD, input_guard_node(guards, auditor))
    builder.add_node(REFUSE, refuse)
    builder.add_node(SUPERVISOR, supervisor)
    builder.add_node(CLARIFY, clarify)
    builder.add_node(RESPOND, respond)
    builder.add_node(OUTPUT_GUARD, output_guard_node(guards, auditor))
    for intent in INTENTS:
        node = (agent_nodes or {}).get(intent) or _agent_node(intent, registry)
        builder.add_node(intent, node, input_schema=AgentInput)
        builder.add_edge(intent, RESPOND)
    builder.add_edge(START, INPUT_GUARD)
    builder.add_conditional_edges(INPUT_GUARD, after_input_guard, [SUPERVISOR, REFUSE])
    builder.add_conditional_edges(SUPERVISOR, dispatch, [CLARIFY, *INTENTS])
    builder.add_edge(CLARIFY, OUTPUT_GUARD)
    builder.add_edge(RESPOND, OUTPUT_GUARD)
    builder.add_edge(REFUSE, OUTPUT_GUARD)
    builder.add_edge(OUTPUT_GUARD, END)
    return builder


def _agent_node(intent: Intent, registry: AgentRegistry) -> Callable[[AgentInput], dict]:
    """A node that runs the registered agent for `intent`, or says it is not installed."""

    def run(payload: AgentInput) -> dict[str, list[AgentAnswer]]:
        task = AgentTask(
            intent=intent,
            text=payload["task"].text,
            order=payload["order"],
            history=tuple(payload["messages"]),
            user_id=payload["user_id"],
            tenant_id=payload["tenant_id"],
            attachments=tuple(payload.get("attachments", [])),
        )
        agent = registry.get(intent)
        answer = agent.run(task) if agent is not None else not_installed_answer(task)
        return {"answers": [answer]}

    run.__name__ = f"{intent}_agent"
    return run
