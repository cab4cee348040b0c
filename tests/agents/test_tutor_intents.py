"""Deterministic parsing of tutor chat messages."""

from __future__ import annotations

import pytest

from agents.tutor_intents import TutorRequest, parse_request


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("quiz me on pneumothorax", TutorRequest("quiz", topic="pneumothorax")),
        (
            "Can you quiz me about the silhouette sign?",
            TutorRequest("quiz", topic="silhouette sign"),
        ),
        ("quiz me", TutorRequest("quiz")),
        ("give me a question", TutorRequest("quiz")),
        ("let's practice", TutorRequest("quiz")),
        ("I'm new — where do I start?", TutorRequest("diagnostic")),
        ("where should I begin", TutorRequest("diagnostic")),
        ("how am I doing?", TutorRequest("progress")),
        ("show me my progress", TutorRequest("progress")),
        ("explain the silhouette sign", TutorRequest("explain", topic="silhouette sign")),
        ("What is shortcut learning?", TutorRequest("explain", topic="shortcut learning")),
        ("hint", TutorRequest("hint")),
        ("another hint please", TutorRequest("hint")),
        ("I'm stuck", TutorRequest("hint")),
        ("next question", TutorRequest("skip")),
        ("skip", TutorRequest("skip")),
        ("stop the quiz", TutorRequest("stop")),
        ("I'm done for now", TutorRequest("stop")),
    ],
)
def test_commands_are_recognised(text: str, expected: TutorRequest) -> None:
    assert parse_request(text, has_open_question=False) == expected


@pytest.mark.parametrize(
    "text",
    [
        "B",
        "the heart border is lost because the opacity touches it",
        "low prevalence lowers the PPV, so diagnostic accuracy looks worse in screening",
        "it shows my progress in the disease",
    ],
)
def test_answers_with_an_open_question_are_answers(text: str) -> None:
    assert parse_request(text, has_open_question=True) == TutorRequest("answer", text=text)


def test_commands_still_work_with_an_open_question() -> None:
    assert parse_request("how am I doing?", has_open_question=True).kind == "progress"
    assert parse_request("explain", has_open_question=True) == TutorRequest("explain")
    assert parse_request("hint", has_open_question=True).kind == "hint"


def test_unrecognised_text_without_an_open_question_is_an_answer_to_nothing() -> None:
    assert parse_request("C", has_open_question=False) == TutorRequest("answer", text="C")


def test_a_question_with_nothing_open_asks_for_an_explanation() -> None:
    assert parse_request("What is the silhouette sign?", has_open_question=False) == (
        TutorRequest("explain", topic="silhouette sign")
    )
    assert parse_request("Is it B?", has_open_question=True) == TutorRequest(
        "answer", text="Is it B?"
    )
    long = parse_request("Why " + "very " * 80 + "long?", has_open_question=False)
    assert long.kind == "explain" and len(long.topic) == 200
