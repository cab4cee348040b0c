"""The router's bands, clinical margin, fan-out filtering and verifier failures.

Uses a SCRIPTED classifier (tests/scripted.py): this checks decision logic, not classification.
"""

from __future__ import annotations

from agents.supervisor import RoutingThresholds, SupervisorRouter, clarifying_question
from state.errors import ModelEndpointError
from tests.scripted import ScriptedClassifier, ScriptedPrediction, ScriptedSegment

BANDS = RoutingThresholds(direct=0.85, verify=0.65, clinical_margin=0.03)


def route(prediction, verifier=None):
    return SupervisorRouter(ScriptedClassifier({"m": prediction}), BANDS, verifier).route("m")


def test_clinical_route_needs_the_margin_above_the_direct_threshold():
    assert route(ScriptedPrediction("tutor", 0.86)).method == "embedding"
    plan = route(ScriptedPrediction("radiology", 0.86))
    assert plan.method == "clarify"
    assert plan.tasks == []
    assert route(ScriptedPrediction("radiology", 0.89)).tasks[0].intent == "radiology"


def test_verifier_sees_top_two_non_escalate_candidates_in_score_order():
    seen = []

    def verifier(text, candidates):
        seen.append(candidates)
        return "documents"

    scores = {
        "radiology": 0.05,
        "documents": 0.30,
        "tutor": 0.02,
        "policy": 0.08,
        "general": 0.05,
        "escalate": 0.5,
    }
    prediction = ScriptedPrediction("policy", 0.70, scores=scores)
    plan = SupervisorRouter(ScriptedClassifier({"m": prediction}), BANDS, verifier).route("m")
    assert seen == [["documents", "policy"]]
    assert plan.method == "llm" and plan.tasks[0].intent == "documents"


def test_verifier_endpoint_failure_falls_back_to_a_clarifying_question():
    def verifier(text, candidates):
        raise ModelEndpointError("down")

    plan = route(ScriptedPrediction("policy", 0.7), verifier)
    assert plan.method == "clarify"
    assert plan.clarify_question and plan.clarify_question.startswith("I want to send this")


def test_escalate_top_intent_escalates_even_at_low_confidence():
    plan = route(ScriptedPrediction("escalate", 0.4))
    assert [t.intent for t in plan.tasks] == ["escalate"]


def test_fan_out_drops_unconfident_segments_and_needs_two_distinct_intents():
    segments = (
        ScriptedSegment("report this", "radiology", 0.95),
        ScriptedSegment("and something vague", "policy", 0.30),
        ScriptedSegment("and quiz me", "tutor", 0.80),
    )
    plan = route(ScriptedPrediction("radiology", 0.9, segments=segments))
    assert [(t.intent, t.text) for t in plan.tasks] == [
        ("radiology", "report this"),
        ("tutor", "and quiz me"),
    ]
    same = (ScriptedSegment("a", "tutor", 0.9), ScriptedSegment("b", "tutor", 0.9))
    assert len(route(ScriptedPrediction("tutor", 0.9, segments=same)).tasks) == 1


def test_clarifying_question_offers_two_readings():
    q = clarifying_question(["policy", "documents"])
    assert "policies" in q and "documents" in q
