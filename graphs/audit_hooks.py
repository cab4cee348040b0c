"""Write the graph's audit events: routes, model and tool calls, guards, approvals, turn errors.

The thread, run, user and tenant come from the LangGraph config of the node that is running, so
agents and tools need not pass them around.
"""

from __future__ import annotations

from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.config import get_config

from agents.model_access import ModelCallReport
from agents.tool_calls import ToolCallReport
from state.audit import AuditEvent, AuditEventType, AuditTrail
from state.schema import RoutePlan
from tools.guards.metrics import GuardDecision
from tools.policy.schema import ActionPlan, ActionResult, Approval


def _identity(config: RunnableConfig | None) -> dict[str, str | None]:
    configurable = (config or {}).get("configurable", {})
    metadata = (config or {}).get("metadata", {})
    return {
        "tenant": str(configurable.get("tenant_id", "unknown")),
        "user": str(configurable.get("user_id", "unknown")),
        "thread": str(configurable.get("thread_id", "unknown")),
        "run": str(configurable["run_id"]) if configurable.get("run_id") else None,
        "node": metadata.get("langgraph_node"),
    }


def _current_config() -> RunnableConfig | None:
    try:
        return get_config()
    except RuntimeError:
        return None


class GraphAuditor:
    """Turns graph happenings into audit events on one `AuditTrail`."""

    def __init__(self, trail: AuditTrail) -> None:
        self.trail = trail

    def _record(
        self, event_type: AuditEventType, payload: dict[str, Any], config: RunnableConfig | None
    ) -> None:
        self.trail.record(AuditEvent(event_type=event_type, payload=payload, **_identity(config)))

    def route(self, plan: RoutePlan) -> None:
        """The supervisor's decision: intents, method, confidence and scores (no message text)."""
        self._record(
            "route",
            {
                "intents": [t.intent for t in plan.tasks],
                "method": plan.method,
                "confidence": plan.confidence,
                "scores": plan.scores,
                "clarify": plan.clarify_question is not None,
            },
            _current_config(),
        )

    def model_call(self, report: ModelCallReport) -> None:
        """One model call, with the prompt as a digest only."""
        self._record(
            "model_call",
            {
                "role": report.role,
                "model": report.model,
                "endpoint": report.base_url,
                "kind": report.kind,
                "prompt_sha256": report.prompt_sha256,
                "prompt_tokens": report.usage.prompt_tokens,
                "completion_tokens": report.usage.completion_tokens,
                "latency_ms": round(report.latency_ms, 2),
                "outcome": report.outcome,
                "error": report.error,
            },
            _current_config(),
        )

    def tool_call(self, report: ToolCallReport) -> None:
        """One tool call: name, argument digest, outcome, latency and a PHI-free summary."""
        self._record(
            "tool_call",
            {
                "tool": report.tool,
                "args_sha256": report.args_sha256,
                "outcome": report.outcome,
                "latency_ms": round(report.latency_ms, 2),
                "error": report.error,
                "summary": report.summary,
            },
            _current_config(),
        )

    def guard(self, decision: GuardDecision) -> None:
        """One guard decision: guard, stage, action, severity, latency, PHI-free detail.

        An escalation is also the human-follow-up event (`needs_human`).
        """
        self._record(
            "guard",
            {
                "guard": decision.guard,
                "stage": decision.stage,
                "action": decision.action,
                "severity": decision.severity,
                "route": decision.route,
                "latency_ms": round(decision.latency_ms, 3),
                "reason": decision.reason,
                "detail": decision.detail,
                "needs_human": decision.action == "escalate",
            },
            _current_config(),
        )

    def policy_decision(self, plan: ActionPlan) -> None:
        """A gated-action request and the evaluator's decision: facts and rules, no content."""
        request, decision = plan.request, plan.decision
        self._record(
            "tool_call",
            {
                "tool": "policy_evaluate",
                "request_id": plan.request_id,
                "action": plan.action,
                "requested_role": plan.requested_role,
                "data_class": request.data_class if request else None,
                "destination": request.destination if request else None,
                "attributes": request.attributes if request else {},
                "effect": decision.effect if decision else None,
                "rule_ids": list(decision.rule_ids) if decision else [],
                "sections": list(decision.sections) if decision else [],
                "approvers": list(decision.approvers) if decision else [],
                "unavailable": plan.unavailable,
            },
            _current_config(),
        )

    def approval_requested(self, plan: ActionPlan, approvers: list[str]) -> None:
        """The graph paused for a human: which request, and who may decide it."""
        self._record(
            "interrupt",
            {"request_id": plan.request_id, "action": plan.action, "approvers": approvers},
            _current_config(),
        )

    def approval_reply(
        self, plan: ActionPlan, reply: Approval, note: str, *, accepted: bool
    ) -> None:
        """A human's reply: approver, role, decision and redacted note; refused roles too."""
        self._record(
            "approval",
            {
                "request_id": plan.request_id,
                "action": plan.action,
                "approver": reply.approver,
                "role": reply.role,
                "decision": reply.decision,
                "note": note,
                "accepted": accepted,
            },
            _current_config(),
        )

    def action_result(
        self, plan: ActionPlan, result: ActionResult | None, error: BaseException | None = None
    ) -> None:
        """What a gated action did: counts, ids and paths only (an erasure keeps the fact)."""
        self._record(
            "tool_call",
            {
                "tool": plan.action,
                "request_id": plan.request_id,
                "outcome": "ok" if error is None else "error",
                "error": None if error is None else error.__class__.__name__,
                "result": result.result if result else {},
            },
            _current_config(),
        )

    def turn_error(self, config: RunnableConfig, error: BaseException) -> None:
        """A turn that failed: the error class and whether it can be retried."""
        self._record("error", {"error": error.__class__.__name__}, config)

    def end_turn(self) -> None:
        """Flush the turn's events; fail closed raises `AuditUnavailable` here."""
        self.trail.flush()
