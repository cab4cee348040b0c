"""Turn streaming and retry after a failed model call.

Uses SCRIPTED models and a SCRIPTED classifier (tests/scripted.py): graph logic only.
"""

from __future__ import annotations

import pytest
from langgraph.checkpoint.sqlite import SqliteSaver

from agents.general import GeneralAgent
from agents.registry import AgentRegistry, AgentTask
from agents.supervisor import RoutingThresholds, SupervisorRouter
from graphs.supervisor import build_supervisor_graph
from graphs.turns import AnswerEvent, RouteEvent, TokenEvent, history, pending_retry, stream_turn
from state.errors import ModelEndpointError
from state.schema import AgentAnswer
from tests.scripted import ScriptedClassifier, ScriptedPrediction, scripted_access


class FlakyTutor:
    """A scripted tutor whose endpoint fails on the first call, then recovers."""

    name = "tutor"

    def __init__(self) -> None:
        self.calls = 0

    def run(self, task: AgentTask) -> AgentAnswer:
        self.calls += 1
        if self.calls == 1:
            raise ModelEndpointError("cannot reach the composer model at http://x/v1")
        return AgentAnswer(order=task.order, agent="tutor", text="recovered")


@pytest.fixture
def saver(tmp_path):
    with SqliteSaver.from_conn_string(str(tmp_path / "cp.sqlite")) as s:
        yield s


def graph_with(saver, registry):
    classifier = ScriptedClassifier(
        {"hi": ScriptedPrediction("general", 0.97), "quiz me": ScriptedPrediction("tutor", 0.96)}
    )
    router = SupervisorRouter(classifier, RoutingThresholds(0.85, 0.65, 0.03), None)
    return build_supervisor_graph(router, registry).compile(checkpointer=saver)


def test_stream_turn_yields_route_then_tokens_then_the_answer(saver):
    registry = AgentRegistry()
    registry.register(GeneralAgent(scripted_access(["Hi there, welcome."]), registry.installed))
    events = list(
        stream_turn(
            graph_with(saver, registry), thread_id="a", text="hi", user_id="u", tenant_id="t"
        )
    )
    assert isinstance(events[0], RouteEvent)
    assert events[0].plan.tasks[0].intent == "general"
    tokens = [e for e in events if isinstance(e, TokenEvent)]
    assert "".join(t.text for t in tokens) == "Hi there, welcome."
    assert all(t.agent == "general" for t in tokens)
    [answer] = [e for e in events if isinstance(e, AnswerEvent)]
    assert answer.agent == "general" and answer.text.startswith("Hi there, welcome.")


def test_failed_endpoint_keeps_the_turn_and_retry_resumes_without_duplicating_it(saver):
    registry = AgentRegistry()
    tutor = FlakyTutor()
    registry.register(tutor)
    graph = graph_with(saver, registry)
    with pytest.raises(ModelEndpointError):
        list(stream_turn(graph, thread_id="b", text="quiz me", user_id="u", tenant_id="t"))
    assert pending_retry(graph, "b")
    assert [m.type for m in history(graph, "b")] == ["human"]
    events = list(stream_turn(graph, thread_id="b", text=None, user_id="u", tenant_id="t"))
    assert [e.text for e in events if isinstance(e, AnswerEvent)] == ["recovered"]
    assert [m.type for m in history(graph, "b")] == ["human", "ai"]
    assert not pending_retry(graph, "b")
