"""The graph's guard nodes: `input_guard` at entry, `refuse` for blocked input, `output_guard` last.

`input_guard` replaces the newest user message with its redacted text (same message id), keeps
the thread's PHI vault in state and records its decision for the supervisor (escalate, or pass).
A blocked message goes to `refuse`, a fixed reply, and no model sees it. `output_guard` checks
every answer of the turn (leakage, clinical safety for its agent) and replaces it in place.
Values are restored only for display, by `graphs.turns`, never in state.

Usage:
    guards = GraphGuards(input_guards, output_guards, route_limits={"general": 2_000})
    build_supervisor_graph(router, registry, auditor, guards)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from langchain_core.messages import AIMessage, AnyMessage, HumanMessage

from graphs.audit_hooks import GraphAuditor
from state.schema import GuardOutcome, MedGraphState, PhiVault, RoutePlan
from tools.guards.input_guards import InputGuards
from tools.guards.metrics import GuardDecision
from tools.guards.output_guards import OutputGuards

INPUT_GUARD = "input_guard"
OUTPUT_GUARD = "output_guard"
REFUSE = "refuse"

REFUSALS: dict[str, str] = {
    "injection": (
        "I can't act on that message: it looks like an attempt to change my instructions or "
        "reveal hidden configuration. Please rephrase your request."
    ),
    "phi": (
        "I couldn't complete the privacy check on that message, so it was not sent to any "
        "model. Please try again, or remove personal identifiers."
    ),
    "size": (
        "That message is too long or contains unsupported control characters. Please shorten "
        "it or paste plain text."
    ),
}
DEFAULT_REFUSAL = "I can't process that message safely. Please rephrase it."
WITHHELD = "This answer was withheld because a safety check could not be completed."


@dataclass(frozen=True)
class GraphGuards:
    """Everything the guard nodes need; `None` in the graph means every guard is off."""

    input: InputGuards
    output: OutputGuards
    route_limits: dict[str, int] = field(default_factory=dict)


def _newest_human(messages: Sequence[AnyMessage]) -> tuple[int, HumanMessage] | None:
    for index in range(len(messages) - 1, -1, -1):
        if isinstance(messages[index], HumanMessage):
            return index, messages[index]  # type: ignore[return-value]
    return None


def _text(message: HumanMessage) -> str:
    if isinstance(message.content, str):
        return message.content
    return " ".join(
        part["text"]
        for part in message.content
        if isinstance(part, dict) and part.get("type") == "text"
    )


def _report(auditor: GraphAuditor | None, decisions: Sequence[GuardDecision]) -> None:
    if auditor is not None:
        for decision in decisions:
            auditor.guard(decision)


def input_guard_node(
    guards: GraphGuards | None, auditor: GraphAuditor | None
) -> Callable[[MedGraphState], dict[str, object]]:
    """Redact, screen and decide on the newest user message."""

    def input_guard(state: MedGraphState) -> dict[str, object]:
        found = _newest_human(state.get("messages", []))
        if guards is None or found is None:
            return {"guard": GuardOutcome(action="pass")}
        _, message = found
        vault = (state.get("phi_vault") or PhiVault(owner=state.get("user_id", ""))).model_copy(
            deep=True
        )
        verdict = guards.input.check(_text(message), vault)
        _report(auditor, verdict.decisions)
        reason = next((d.reason for d in verdict.decisions if d.guard == verdict.stopped_by), None)
        update: dict[str, object] = {
            "phi_vault": vault,
            "guard": GuardOutcome(
                action=verdict.action, stopped_by=verdict.stopped_by, reason=reason
            ),
        }
        if verdict.text != _text(message):
            update["messages"] = [HumanMessage(verdict.text, id=message.id)]
        return update

    return input_guard


def after_input_guard(state: MedGraphState) -> str:
    """Blocked input goes to the fixed refusal; everything else to the supervisor."""
    outcome = state.get("guard")
    return REFUSE if outcome is not None and outcome.action == "block" else "supervisor"


def refuse(state: MedGraphState) -> dict[str, object]:
    """The fixed reply for a blocked message; no model is called."""
    outcome = state.get("guard")
    stopped_by = outcome.stopped_by if outcome is not None else None
    text = REFUSALS.get(stopped_by or "", DEFAULT_REFUSAL)
    return {"messages": [AIMessage(content=text, name="guard")]}


def route_size_check(
    guards: GraphGuards | None, plan: RoutePlan
) -> tuple[RoutePlan, list[GuardDecision]]:
    """Per-route size limits on the plan's tasks; a task over its limit turns into a question."""
    if guards is None or not guards.route_limits:
        return plan, []
    over = [t for t in plan.tasks if len(t.text) > guards.route_limits.get(t.intent, len(t.text))]
    if not over:
        return plan, []
    task = over[0]
    limit = guards.route_limits[task.intent]
    decision = GuardDecision(
        guard="route_size",
        stage="input",
        action="block",
        severity="medium",
        latency_ms=0.0,
        route=task.intent,
        reason="too_long_for_route",
        detail={"chars": len(task.text), "limit": limit},
    )
    question = (
        f"That request is too long for the {task.intent} assistant ({len(task.text)} characters, "
        f"limit {limit}). Could you shorten it or split it up?"
    )
    return plan.model_copy(update={"tasks": [], "clarify_question": question}), [decision]


def output_guard_node(
    guards: GraphGuards | None, auditor: GraphAuditor | None
) -> Callable[[MedGraphState], dict[str, object]]:
    """Check each answer of this turn and replace it in place (same message id)."""

    def output_guard(state: MedGraphState) -> dict[str, object]:
        messages = state.get("messages", [])
        found = _newest_human(messages)
        start = found[0] + 1 if found is not None else 0
        answers = [m for m in messages[start:] if isinstance(m, AIMessage)]
        if guards is None:
            return {"messages": answers}
        vault = state.get("phi_vault") or PhiVault()
        guarded: list[AnyMessage] = []
        for message in answers:
            route = message.name or "assistant"
            verdict = guards.output.check(message.text, route=route, vault=vault)
            _report(auditor, verdict.decisions)
            text = WITHHELD if verdict.action == "block" else verdict.text
            guarded.append(message.model_copy(update={"content": text}))
        return {"messages": guarded}

    return output_guard
