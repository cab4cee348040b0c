"""The policy subgraph with its human-approval interrupt, and finding and answering approvals.

Shape: triage → (answer, END) | finish | execute → finish | await_approval → review → …
- `triage` answers questions and explanations, or plans a gated action and audits the decision.
- `await_approval` is the only node that pauses: `interrupt(ApprovalRequest)` and nothing else,
  so replaying it on resume repeats no side effect.
- `review` checks the approver's role against the decision; a refused role is audited and the
  request waits again (`refusal` says why). An approval leads to `execute`, a rejection to
  `finish` with no side effect at all.
- `execute` carries out the action once (idempotent per request id), `finish` writes the answer
  and the thread's policy ledger (decision record, report sign-off).

Usage:
    node = build_policy_graph(agent, actions, auditor)
    graph = build_supervisor_graph(router, registry, auditor, guards, agent_nodes={"policy": node})
    pending = pending_approvals(graph, "t1")                       # after a turn paused
    command = resume_command(pending, approver="dr-lee", role="clinician", decision="approve")
    graph.invoke(command, {"configurable": {"thread_id": "t1"}})
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from langchain_core.messages import AnyMessage
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Command, Interrupt, interrupt
from typing_extensions import TypedDict

from agents.policy import PolicyAgent
from agents.registry import AgentTask
from graphs.audit_hooks import GraphAuditor
from graphs.supervisor import AgentInput
from state.errors import ApprovalError, InputError, PermissionDenied
from state.roles import ROLES, Role
from state.schema import (
    AgentAnswer,
    Attachment,
    PhiVault,
    PolicyLedger,
    PolicyOutcome,
    RouteTask,
    merge_answers,
    merge_ledger,
)
from tools.policy.gated_actions import GatedActions, ThreadContext
from tools.policy.intents import parse_action
from tools.policy.schema import ActionPlan, ActionResult, Approval, ApprovalRequest

LEAST_PRIVILEGED_ROLE: Role = "trainee"
INTERRUPT_CHANNEL = "__interrupt__"


class PolicyFlow(TypedDict, total=False):
    """The policy subgraph's state: the agent input, the plan, the reply and the outputs."""

    task: RouteTask
    order: int
    messages: list[AnyMessage]
    user_id: str
    tenant_id: str
    attachments: list[Attachment]
    phi_vault: PhiVault | None
    policy: Annotated[PolicyLedger, merge_ledger]
    plan: ActionPlan | None
    reply: Approval | None
    note: str | None
    refusal: str | None
    result: ActionResult | None
    answers: Annotated[list[AgentAnswer], merge_answers]


class PolicyOutput(TypedDict, total=False):
    """What the policy subgraph hands back to the supervisor graph."""

    answers: Annotated[list[AgentAnswer], merge_answers]
    policy: Annotated[PolicyLedger, merge_ledger]


def requester_role(config: RunnableConfig) -> Role:
    """The requesting user's role from the run's config; absent means least privilege."""
    role = config.get("configurable", {}).get("user_role", LEAST_PRIVILEGED_ROLE)
    if role not in ROLES:
        raise InputError(f"unknown role {role!r}; roles are {', '.join(ROLES)}")
    return role


def _context(state: PolicyFlow, config: RunnableConfig) -> ThreadContext:
    return ThreadContext(
        thread_id=str(config.get("configurable", {}).get("thread_id", "")),
        tenant_id=state.get("tenant_id", ""),
        user_id=state.get("user_id", ""),
        role=requester_role(config),
        messages=state.get("messages", []),
        vault=state.get("phi_vault"),
        ledger=state.get("policy") or PolicyLedger(),
    )


def _task(state: PolicyFlow) -> AgentTask:
    return AgentTask(
        intent="policy",
        text=state["task"].text,
        order=state["order"],
        history=tuple(state.get("messages", [])),
        user_id=state.get("user_id", ""),
        tenant_id=state.get("tenant_id", ""),
        attachments=tuple(state.get("attachments", [])),
    )


def build_policy_graph(
    agent: PolicyAgent, actions: GatedActions, auditor: GraphAuditor | None
) -> CompiledStateGraph:
    """The policy node of the supervisor graph (it inherits the parent's checkpointer)."""

    def triage(state: PolicyFlow, config: RunnableConfig) -> dict[str, object]:
        context = _context(state, config)
        intent = parse_action(state["task"].text)
        if intent is None:
            return {"answers": [agent.respond(_task(state), context.ledger)]}
        plan = actions.plan(intent, context)
        if auditor is not None:
            auditor.policy_decision(plan)
            if plan.decision and plan.decision.effect == "needs_approval" and not plan.unavailable:
                auditor.approval_requested(plan, list(plan.decision.approvers))
        return {"plan": plan}

    def after_triage(state: PolicyFlow) -> str:
        plan = state.get("plan")
        if plan is None:
            return END
        if plan.unavailable or plan.decision is None or plan.decision.effect == "deny":
            return "finish"
        return "execute" if plan.decision.effect == "allow" else "await_approval"

    def await_approval(state: PolicyFlow) -> dict[str, object]:
        plan = state["plan"]
        assert plan is not None and plan.decision is not None  # routed here only then
        request = agent.approval_request(plan, plan.decision, state.get("refusal"))
        reply = interrupt(request.model_dump(mode="json"), response_schema=Approval)
        return {"reply": reply}

    def review(state: PolicyFlow) -> dict[str, object]:
        plan, reply = state["plan"], state["reply"]
        assert plan is not None and plan.decision is not None and reply is not None
        scratch = (state.get("phi_vault") or PhiVault()).model_copy(deep=True)
        note = actions.redactor.redact(reply.note, scratch).text
        allowed = reply.role in plan.decision.approvers
        if auditor is not None:
            auditor.approval_reply(plan, reply, note, accepted=allowed)
        if not allowed:
            needed = " or ".join(plan.decision.approvers)
            refusal = (
                f"{reply.approver} ({reply.role}) may not decide this request; "
                f"it needs an approver with the role {needed}"
            )
            return {"reply": None, "refusal": refusal}
        return {"note": note, "refusal": None}

    def after_review(state: PolicyFlow) -> str:
        reply = state.get("reply")
        if reply is None:
            return "await_approval"
        return "execute" if reply.decision == "approve" else "finish"

    def execute(state: PolicyFlow, config: RunnableConfig) -> dict[str, object]:
        plan = state["plan"]
        assert plan is not None
        reply = state.get("reply")
        try:
            result = actions.execute(plan, _context(state, config), reply)
        except Exception as exc:
            if auditor is not None:
                auditor.action_result(plan, None, exc)
            raise
        if auditor is not None:
            auditor.action_result(plan, result)
        return {"result": result}

    def finish(state: PolicyFlow) -> dict[str, object]:
        plan = state["plan"]
        assert plan is not None
        reply, result = state.get("reply"), state.get("result")
        if plan.unavailable:
            outcome: PolicyOutcome = "unavailable"
        elif plan.decision is None or plan.decision.effect == "deny":
            outcome = "denied"
        elif reply is not None and reply.decision == "reject":
            outcome = "rejected"
        else:
            outcome = "executed"
        record = agent.record(plan, outcome, approval=reply, result=result, note=state.get("note"))
        signoffs = [result.signoff] if result is not None and result.signoff is not None else []
        return {
            "answers": [agent.outcome_answer(_task(state), record, result)],
            "policy": PolicyLedger(records=[record], signoffs=signoffs),
        }

    builder = StateGraph(PolicyFlow, input_schema=AgentInput, output_schema=PolicyOutput)
    builder.add_node("triage", triage)
    builder.add_node("await_approval", await_approval)
    builder.add_node("review", review)
    builder.add_node("execute", execute)
    builder.add_node("finish", finish)
    builder.add_edge(START, "triage")
    builder.add_conditional_edges(
        "triage", after_triage, [END, "finish", "execute", "await_approval"]
    )
    builder.add_edge("await_approval", "review")
    builder.add_conditional_edges("review", after_review, ["await_approval", "execute", "finish"])
    builder.add_edge("execute", "finish")
    builder.add_edge("finish", END)
    return builder.compile()


# --- finding and answering approvals -------------------------------------------------------


@dataclass(frozen=True)
class PendingApproval:
    """A paused gated action: its thread, the interrupt to resume and what the approver sees."""

    thread_id: str
    interrupt_id: str
    request: ApprovalRequest


def approvals_in(thread_id: str, interrupts: Sequence[Interrupt]) -> list[PendingApproval]:
    """The approval requests among a thread's interrupts."""
    return [
        PendingApproval(thread_id, i.id, ApprovalRequest.model_validate(i.value))
        for i in interrupts
        if isinstance(i.value, dict) and i.value.get("kind") == "approval"
    ]


def pending_approvals(graph: CompiledStateGraph, thread_id: str) -> list[PendingApproval]:
    """The approvals a thread is waiting for (usually none or one)."""
    state = graph.get_state({"configurable": {"thread_id": thread_id}})
    return approvals_in(thread_id, state.interrupts)


def find_pending(
    checkpointer: BaseCheckpointSaver, tenant_id: str | None = None
) -> Iterator[PendingApproval]:
    """Every waiting approval in a checkpoint store (optionally one tenant's), no graph needed."""
    threads = dict.fromkeys(
        str(item.config["configurable"]["thread_id"]) for item in checkpointer.list(None)
    )
    for thread_id in threads:
        latest = checkpointer.get_tuple(
            {"configurable": {"thread_id": thread_id, "checkpoint_ns": ""}}
        )
        if latest is None:
            continue
        tenant = latest.checkpoint.get("channel_values", {}).get("tenant_id")
        if tenant_id is not None and tenant != tenant_id:
            continue
        interrupts: list[Interrupt] = [
            item
            for _, channel, value in latest.pending_writes or []
            if channel == INTERRUPT_CHANNEL
            for item in value
        ]
        yield from approvals_in(thread_id, interrupts)


def resume_command(
    pending: Sequence[PendingApproval],
    *,
    approver: str,
    role: Role,
    decision: Literal["approve", "reject"],
    note: str = "",
    request_id: str | None = None,
) -> Command:
    """The `Command(resume=…)` that answers one pending approval, checked before anything runs.

    Raises:
        ApprovalError: nothing is pending (or already decided), or `request_id` is not pending.
        PermissionDenied: `role` is not one the request's rules accept as approver.
        InputError: the reply itself is malformed (unknown role, note too long).
    """
    if not pending:
        raise ApprovalError("nothing is waiting for approval on this thread (already decided?)")
    chosen = [p for p in pending if request_id in (None, p.request.request_id)]
    if not chosen:
        waiting = ", ".join(p.request.request_id for p in pending)
        raise ApprovalError(f"{request_id} is not waiting for approval; waiting: {waiting}")
    if len(chosen) > 1:
        waiting = ", ".join(p.request.request_id for p in chosen)
        raise ApprovalError(f"several approvals are waiting ({waiting}); name one")
    target = chosen[0]
    approvers = target.request.decision.approvers
    if role not in approvers:
        raise PermissionDenied(
            f"{approver} ({role}) may not decide {target.request.request_id}: "
            f"it needs an approver with the role {' or '.join(approvers)}"
        )
    try:
        reply = Approval(approver=approver, role=role, decision=decision, note=note)
    except ValueError as exc:
        raise InputError(f"invalid approval: {exc}") from exc
    resume: dict[str, Any] = {target.interrupt_id: reply.model_dump()}
    return Command(resume=resume)
