"""The classes the graphs' states hold: found by walking the state annotations, and the ones the
checkpointer may rebuild once they are passed to it."""

from __future__ import annotations

from graphs.checkpoint_types import graph_record_types
from state.schema import PolicyLedger, PolicyRecord, RoutePlan, RouteTask
from state.serde import checkpoint_serde
from tools.policy.schema import ActionPlan, ActionResult, Approval


def test_the_walk_finds_the_supervisor_and_the_policy_subgraph_records() -> None:
    found = set(graph_record_types())
    assert {RoutePlan, RouteTask, PolicyLedger, PolicyRecord} <= found
    assert {ActionPlan, ActionResult, Approval} <= found


def test_a_policy_record_is_rebuilt_only_by_a_serializer_that_was_given_the_graph_types() -> None:
    reply = Approval(approver="dr-b", role="admin", decision="approve", note="ok")
    allowed = checkpoint_serde(graph_record_types())
    assert allowed.loads_typed(allowed.dumps_typed({"reply": reply})) == {"reply": reply}
    state_only = checkpoint_serde()
    plain = state_only.loads_typed(state_only.dumps_typed({"reply": reply}))
    assert plain == {
        "reply": {"approver": "dr-b", "role": "admin", "decision": "approve", "note": "ok"}
    }
