"""Tool calls are audited: outcome, latency, argument digest and summary, never the values.

The graph test routes with a SCRIPTED classifier (tests/scripted.py); the agent's tool is a real
function and the audit trail is a real SQLite hash chain.
"""

from __future__ import annotations

import pytest
from langgraph.checkpoint.sqlite import SqliteSaver

from agents.registry import AgentRegistry, AgentTask
from agents.supervisor import RoutingThresholds, SupervisorRouter
from agents.tool_calls import ToolCallReport, ToolCalls, args_digest
from graphs.audit_hooks import GraphAuditor
from graphs.supervisor import build_supervisor_graph
from graphs.turns import stream_turn
from state.audit import open_audit
from state.schema import AgentAnswer, Intent
from tests.scripted import ScriptedClassifier, ScriptedPrediction


def test_a_successful_call_reports_its_summary_and_returns_the_result():
    reports: list[ToolCallReport] = []
    result = ToolCalls(reports.append).run(
        "count", lambda: [1, 2, 3], args={"q": "x"}, summary=lambda r: {"n": len(r)}
    )
    assert result == [1, 2, 3]
    (report,) = reports
    assert (report.tool, report.outcome, report.summary) == ("count", "ok", {"n": 3})
    assert report.args_sha256 == args_digest({"q": "x"}) != args_digest({"q": "y"})
    assert report.latency_ms >= 0


def test_a_failing_call_is_reported_then_re_raised():
    reports: list[ToolCallReport] = []

    def broken() -> int:
        raise KeyError("patient 123")

    with pytest.raises(KeyError):
        ToolCalls(reports.append).run("lookup", broken, args={"id": "123"})
    (report,) = reports
    assert (report.outcome, report.error, report.summary) == ("error", "KeyError", {})


class LookupAgent:
    """A documents-intent agent whose only work is one real tool call."""

    name: Intent = "documents"

    def __init__(self, tools: ToolCalls) -> None:
        self._tools = tools

    def run(self, task: AgentTask) -> AgentAnswer:
        words = self._tools.run(
            "split_words",
            lambda: task.text.split(),
            args={"text": task.text},
            summary=lambda w: {"words": len(w)},
        )
        return AgentAnswer(order=task.order, agent=self.name, text=f"{len(words)} words")


def test_tool_calls_inside_a_turn_land_in_the_audit_chain_with_node_and_thread(tmp_path):
    text = "find the Smith protocol"
    with open_audit(f"sqlite:///{tmp_path / 'audit.sqlite'}") as audit:
        auditor = GraphAuditor(audit)
        registry = AgentRegistry()
        registry.register(LookupAgent(ToolCalls(auditor.tool_call)))
        router = SupervisorRouter(
            ScriptedClassifier({text: ScriptedPrediction("documents", 0.95)}),
            RoutingThresholds(0.85, 0.65, 0.03),
            None,
        )
        with SqliteSaver.from_conn_string(str(tmp_path / "cp.sqlite")) as saver:
            graph = build_supervisor_graph(router, registry, auditor).compile(checkpointer=saver)
            events = list(
                stream_turn(
                    graph,
                    thread_id="th-tool",
                    text=text,
                    user_id="u",
                    tenant_id="t",
                    auditor=auditor,
                )
            )
        assert any(getattr(e, "text", "") == "4 words" for e in events)
        (call,) = [r for r in audit.for_thread("th-tool") if r.event_type == "tool_call"]
        assert call.node == "documents" and call.thread == "th-tool"
        assert call.payload["tool"] == "split_words" and call.payload["summary"] == {"words": 4}
        assert "Smith" not in call.model_dump_json()
        assert audit.verify().ok
