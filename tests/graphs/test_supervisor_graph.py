"""Graph logic of the supervisor: routing, fan-out, clarify, escalate, not-installed replies.

All tests here use SCRIPTED models and a SCRIPTED classifier (tests/scripted.py): they check
graph wiring, not language quality.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from langchain_core.messages import AIMessage, HumanMessage
from langgraph.checkpoint.sqlite import SqliteSaver

from agents.escalate import ESCALATION_REPLY, EscalateAgent
from agents.general import GeneralAgent
from agents.registry import AgentRegistry, AgentTask
from agents.supervisor import (
    RoutingThresholds,
    SupervisorRouter,
    llm_verifier,
    route_decision_model,
)
from graphs.supervisor import (
    build_supervisor_graph,
    with_continuation,
    with_documents_match,
    with_image_route,
)
from state.schema import AgentAnswer, Attachment, RoutePlan, RouteTask
from tests.scripted import (
    ScriptedClassifier,
    ScriptedPrediction,
    ScriptedSegment,
    ScriptedStructured,
    scripted_access,
)

THRESHOLDS = RoutingThresholds(direct=0.85, verify=0.65, clinical_margin=0.03)


class EchoTutor:
    """A scripted tutor agent that echoes its task, to observe what the graph hands it."""

    name = "tutor"

    def run(self, task: AgentTask) -> AgentAnswer:
        return AgentAnswer(order=task.order, agent="tutor", text=f"tutor got: {task.text}")


PREDICTIONS = {
    "hi": ScriptedPrediction("general", 0.97),
    "quiz me": ScriptedPrediction("tutor", 0.95),
    "what premedication is needed?": ScriptedPrediction("tutor", 0.9),
    "hmm maybe": ScriptedPrediction("documents", 0.40),
    "teach or look up": ScriptedPrediction("tutor", 0.75),
    "I want to end my life": ScriptedPrediction("general", 0.5, safety_hit=True),
    "report this film and quiz me on effusions": ScriptedPrediction(
        "radiology",
        0.9,
        segments=(
            ScriptedSegment("report this film", "radiology", 0.93),
            ScriptedSegment("quiz me on effusions", "tutor", 0.91),
        ),
    ),
}


def make_graph(tmp_path: Path, replies=(), structured=None, tutor=True):
    access = scripted_access(replies, structured)
    registry = AgentRegistry()
    registry.register(EscalateAgent())
    registry.register(GeneralAgent(access, registry.installed))
    if tutor:
        registry.register(EchoTutor())
    verifier = llm_verifier(access) if structured else None
    router = SupervisorRouter(ScriptedClassifier(PREDICTIONS), THRESHOLDS, verifier)
    saver_cm = SqliteSaver.from_conn_string(str(tmp_path / "cp.sqlite"))
    saver = saver_cm.__enter__()
    return build_supervisor_graph(router, registry).compile(checkpointer=saver), saver_cm


def ask(graph, text: str, thread: str = "t1") -> list[AIMessage]:
    config = {"configurable": {"thread_id": thread}}
    before = len(graph.get_state(config).values.get("messages", []))
    out = graph.invoke({"messages": [HumanMessage(text)]}, config)
    return [m for m in out["messages"][before:] if isinstance(m, AIMessage)]


def test_direct_route_to_general_uses_scripted_model_and_states_scope(tmp_path):
    graph, cm = make_graph(tmp_path, replies=["Hello, nice to meet you."])
    try:
        [reply] = ask(graph, "hi")
        assert reply.name == "general"
        assert reply.content.startswith("Hello, nice to meet you.")
        assert "Not installed in this build yet" in reply.content
        assert "radiology" in reply.content
    finally:
        cm.__exit__(None, None, None)


def test_unregistered_specialist_says_not_installed_and_generates_nothing(tmp_path):
    graph, cm = make_graph(tmp_path, tutor=False)
    try:
        [reply] = ask(graph, "quiz me")
        assert reply.name == "tutor"
        assert "not installed" in reply.content
    finally:
        cm.__exit__(None, None, None)


def test_multi_intent_fans_out_and_merges_answers_in_message_order(tmp_path):
    graph, cm = make_graph(tmp_path)
    try:
        replies = ask(graph, "report this film and quiz me on effusions")
        assert [r.name for r in replies] == ["radiology", "tutor"]
        assert "not installed" in replies[0].content
        assert replies[1].content == "tutor got: quiz me on effusions"
        state = graph.get_state({"configurable": {"thread_id": "t1"}}).values
        assert [t.intent for t in state["route"].tasks] == ["radiology", "tutor"]
        assert state["answers"] == []
    finally:
        cm.__exit__(None, None, None)


def test_low_confidence_asks_a_clarifying_question(tmp_path):
    graph, cm = make_graph(tmp_path)
    try:
        [reply] = ask(graph, "hmm maybe")
        assert reply.name == "supervisor"
        assert reply.content.endswith("will help.")
        assert "?" in reply.content
    finally:
        cm.__exit__(None, None, None)


def test_middle_band_is_verified_by_scripted_llm_route_decision(tmp_path):
    structured = ScriptedStructured(
        {"RouteDecision": [route_decision_model(["tutor", "documents"])(intent="tutor")]}
    )
    graph, cm = make_graph(tmp_path, structured=structured)
    try:
        [reply] = ask(graph, "teach or look up")
        assert reply.name == "tutor"
        assert structured.calls == [("router", "RouteDecision")]
        plan = graph.get_state({"configurable": {"thread_id": "t1"}}).values["route"]
        assert plan.method == "llm"
    finally:
        cm.__exit__(None, None, None)


def test_middle_band_unclear_verdict_falls_back_to_clarify(tmp_path):
    structured = ScriptedStructured(
        {"RouteDecision": [route_decision_model(["tutor", "documents"])(intent="unclear")]}
    )
    graph, cm = make_graph(tmp_path, structured=structured)
    try:
        [reply] = ask(graph, "teach or look up")
        assert reply.name == "supervisor"
    finally:
        cm.__exit__(None, None, None)


def test_safety_hit_escalates_with_fixed_reply_and_human_flag(tmp_path):
    graph, cm = make_graph(tmp_path)
    try:
        [reply] = ask(graph, "I want to end my life")
        assert reply.name == "escalate"
        assert reply.content == ESCALATION_REPLY
        assert reply.response_metadata["needs_human"] is True
    finally:
        cm.__exit__(None, None, None)


def test_thread_history_survives_a_new_graph_on_the_same_checkpoint_file(tmp_path):
    graph, cm = make_graph(tmp_path, replies=["Hello."])
    ask(graph, "hi", thread="keep")
    cm.__exit__(None, None, None)
    graph2, cm2 = make_graph(tmp_path)
    try:
        values = graph2.get_state({"configurable": {"thread_id": "keep"}}).values
        assert [m.type for m in values["messages"]] == ["human", "ai"]
    finally:
        cm2.__exit__(None, None, None)


@pytest.mark.parametrize(
    "opening", ["", "<b>hi</b>", "x" * 400, "12345 678 90", "You're welcome, glad it helped."]
)
def test_general_agent_replaces_unusable_model_text_with_fixed_opening(tmp_path, opening):
    graph, cm = make_graph(tmp_path, replies=[opening or " "])
    try:
        [reply] = ask(graph, "hi")
        assert reply.content.startswith("Hello! I'm MedGraph.")
    finally:
        cm.__exit__(None, None, None)


class ImageEcho:
    """A scripted radiology agent that reports the images it was handed."""

    name = "radiology"

    def run(self, task: AgentTask) -> AgentAnswer:
        names = ",".join(a.name for a in task.images())
        return AgentAnswer(order=task.order, agent="radiology", text=f"images: {names}")


def image(name: str = "cxr.png") -> Attachment:
    return Attachment(kind="image", path=f"/tmp/{name}", name=name, sha256="0" * 64, size_bytes=1)


def ask_with(graph, text: str, attachments: list[Attachment], thread: str = "t1"):
    config = {"configurable": {"thread_id": thread}}
    before = len(graph.get_state(config).values.get("messages", []))
    out = graph.invoke({"messages": [HumanMessage(text)], "attachments": attachments}, config)
    return [m for m in out["messages"][before:] if isinstance(m, AIMessage)]


def test_an_attached_image_turns_a_clarifying_question_into_a_radiology_task(tmp_path):
    registry = AgentRegistry()
    registry.register(ImageEcho())
    router = SupervisorRouter(ScriptedClassifier(PREDICTIONS), THRESHOLDS, None)
    with SqliteSaver.from_conn_string(str(tmp_path / "img.sqlite")) as saver:
        graph = build_supervisor_graph(router, registry).compile(checkpointer=saver)
        [reply] = ask_with(graph, "hmm maybe", [image()])
        assert (reply.name, reply.content) == ("radiology", "images: cxr.png")
        [next_reply] = ask_with(graph, "hmm maybe", [])
        assert next_reply.name == "supervisor"  # attachments belong to one turn only


def test_an_image_joins_other_specialists_but_never_overrides_an_escalation():
    text = "quiz me"
    plan = RoutePlan(
        tasks=[RouteTask(intent="tutor", text=text, confidence=0.9)],
        method="embedding",
        confidence=0.9,
    )
    joined = with_image_route(plan, text, [image()])
    assert [t.intent for t in joined.tasks] == ["tutor", "radiology"]
    assert with_image_route(plan, text, []) == plan
    safety = RoutePlan(
        tasks=[RouteTask(intent="escalate", text=text, confidence=1.0)],
        method="safety",
        confidence=1.0,
    )
    assert with_image_route(safety, text, [image()]) == safety


def test_an_awaited_answer_goes_to_the_waiting_agent_even_when_routed_elsewhere(tmp_path):
    registry = AgentRegistry()
    registry.register(EchoTutor())
    router = SupervisorRouter(ScriptedClassifier(PREDICTIONS), THRESHOLDS, None)
    waiting = {"dr-u": "tutor"}
    with SqliteSaver.from_conn_string(str(tmp_path / "cont.sqlite")) as saver:
        graph = build_supervisor_graph(
            router, registry, awaiting=lambda user, tenant: waiting.get(user)
        ).compile(checkpointer=saver)
        config = {"configurable": {"thread_id": "t1"}}
        out = graph.invoke({"messages": [HumanMessage("hmm maybe")], "user_id": "dr-u"}, config)
        assert out["messages"][-1].content == "tutor got: hmm maybe"
        assert out["route"].method == "continuation"
        waiting.clear()
        out = graph.invoke({"messages": [HumanMessage("hmm maybe")], "user_id": "dr-u"}, config)
        assert out["messages"][-1].name == "supervisor"  # nothing awaited: a clarifying question


def one_task_plan(intent, method="embedding"):
    """A one-task route plan, as the router would make it."""
    return RoutePlan(
        tasks=[RouteTask(intent=intent, text="x", confidence=0.95)],
        method=method,
        confidence=0.95,
    )


def test_continuation_leaves_escalations_images_and_direct_questions_elsewhere():
    direct = one_task_plan("documents")
    assert with_continuation(direct, "what does the guide say?", "tutor", []) == direct
    assert with_continuation(direct, "B", "tutor", []).tasks[0].intent == "tutor"
    assert with_continuation(direct, "the costophrenic angle", "tutor", []).method == (
        "continuation"
    )
    safety = one_task_plan("escalate", "safety")
    assert with_continuation(safety, "I want to end my life", "tutor", []) == safety
    radiology = one_task_plan("radiology")
    assert with_continuation(radiology, "B", "tutor", [image()]) == radiology
    assert with_continuation(direct, "B", None, []) == direct


def test_a_question_the_users_documents_match_goes_to_the_documents_agent(tmp_path):
    # Scripted classifier and tutor: this checks the graph's routing, not language quality.
    registry = AgentRegistry()
    registry.register(EchoTutor())
    router = SupervisorRouter(ScriptedClassifier(PREDICTIONS), THRESHOLDS, None)
    asked: list[tuple[str, str]] = []

    def matches(tenant: str, text: str) -> bool:
        asked.append((tenant, text))
        return tenant == "clinic-a"

    with SqliteSaver.from_conn_string(str(tmp_path / "docs.sqlite")) as saver:
        graph = build_supervisor_graph(router, registry, documents_match=matches).compile(
            checkpointer=saver
        )
        question = {"messages": [HumanMessage("what premedication is needed?")]}
        out = graph.invoke(
            {**question, "tenant_id": "clinic-a"}, {"configurable": {"thread_id": "d1"}}
        )
        assert out["route"].method == "documents_match"
        assert [t.intent for t in out["route"].tasks] == ["documents"]
        assert "not installed" in out["messages"][-1].content  # no documents agent here
        out = graph.invoke(
            {**question, "tenant_id": "clinic-b"}, {"configurable": {"thread_id": "d2"}}
        )
        assert out["route"].method == "embedding"
        assert out["messages"][-1].content == "tutor got: what premedication is needed?"
        graph.invoke(
            {"messages": [HumanMessage("quiz me")], "tenant_id": "clinic-a"},
            {"configurable": {"thread_id": "d3"}},
        )
    premedication = "what premedication is needed?"
    assert asked == [("clinic-a", premedication), ("clinic-b", premedication)]


def test_only_a_question_the_classifier_gave_to_the_tutor_or_general_agent_is_checked():
    def never() -> bool:
        raise AssertionError("the documents were searched")

    tutor = one_task_plan("tutor")
    assert with_documents_match(tutor, "quiz me", never) == tutor
    assert with_documents_match(tutor, "what is it?", lambda: False) == tutor
    others = [one_task_plan("radiology"), one_task_plan("policy")]
    for other in [*others, one_task_plan("tutor", "continuation")]:
        assert with_documents_match(other, "what is it?", never) == other
    moved = with_documents_match(one_task_plan("general"), "what is it?", lambda: True)
    assert [t.intent for t in moved.tasks] == ["documents"] and moved.method == "documents_match"
    # With a quiz open, the documents' answer still wins over the continuation.
    assert with_continuation(moved, "what is it?", "tutor", []) == moved
