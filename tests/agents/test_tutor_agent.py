"""A chat with the tutor agent on the real bank: diagnostic, practice, hints, progress."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from agents.registry import AgentTask
from agents.tutor import TutorAgent
from tools.models.embedder import MiniLMEmbedder
from tools.tutor.bank import Bank, load_bank
from tools.tutor.engine import Tutor
from tools.tutor.grading import LETTERS, Grader
from tools.tutor.learner_store import open_learner_store
from tools.tutor.wire import LearnerRef

USER = LearnerRef(user_id="resident-7", tenant_id="st-marys")


@pytest.fixture(scope="module")
def minilm() -> MiniLMEmbedder:
    return MiniLMEmbedder.load("cpu")


@pytest.fixture(scope="module")
def real_bank() -> Bank:
    return load_bank()


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'tutor.sqlite'}"


@pytest.fixture
def agent(
    real_bank: Bank, minilm: MiniLMEmbedder, store_url: str, tmp_path: Path
) -> Iterator[TutorAgent]:
    with open_learner_store(store_url) as store:
        yield TutorAgent(Tutor(real_bank, store, Grader(minilm.embed), plot_dir=tmp_path, seed=3))


def say(agent: TutorAgent, text: str) -> tuple[str, list[str]]:
    answer = agent.run(
        AgentTask(
            intent="tutor", text=text, order=0, user_id=USER.user_id, tenant_id=USER.tenant_id
        )
    )
    assert answer.agent == "tutor"
    return answer.text, answer.citations


def open_question(agent: TutorAgent):
    pending = agent.tutor.learner(USER).pending
    assert pending is not None
    return agent.tutor.bank.question(pending.question_id)


def right_answer(agent: TutorAgent) -> str:
    question = open_question(agent)
    return LETTERS[question.correct_index] if question.kind == "mcq" else question.answer


def wrong_letter(agent: TutorAgent) -> str:
    question = open_question(agent)
    return LETTERS[(question.correct_index + 1) % 4]


def snapshot(agent: TutorAgent) -> tuple[object, int]:
    return agent.tutor.learner(USER), len(agent.tutor.store.events())


def test_chat_from_diagnostic_to_progress_report(agent: TutorAgent) -> None:
    text, _ = say(agent, "I'm new — where do I start?")
    assert text.startswith("Welcome! A 10-question diagnostic")
    assert "diagnostic item 1 of 10" in text and "\nA. " in text
    for n in range(10):
        text, _ = say(agent, right_answer(agent) if n % 3 else wrong_letter(agent))
        if n % 3 == 0:
            assert "Not quite: you chose" in text and "Worked answer (3/3)" in text
        else:
            assert text.startswith("Correct: you chose")
    assert "Diagnostic complete: 6 of 10 right." in text
    assert "Next: Practice — " in text

    if open_question(agent).kind == "mcq":
        text, _ = say(agent, wrong_letter(agent))
        assert "Hint 1/3:" in text and "Try again" in text
        text, citations = say(agent, "hint")
        assert "Hint 2/3:" in text and re.search(r"\[concept: [a-z_]+\]", text)
        assert citations and citations[0].startswith("[concept: ")

    text, citations = say(agent, "explain the silhouette sign")
    assert text.startswith("The silhouette sign [concept: silhouette_sign]")
    assert citations == ["[concept: silhouette_sign]"]

    text, _ = say(agent, "quiz me on pneumothorax")
    assert "Pneumothorax" in text

    text, _ = say(agent, "how am I doing?")
    assert text.startswith("You have answered 1")
    assert "Diagnostic: finished." in text
    assert "mastery  answers  status" in text
    plot = Path(text.rsplit("Mastery over time (PNG): ", 1)[1].strip())
    assert plot.read_bytes()[:4] == b"\x89PNG"


def test_answer_before_any_question_gets_a_clear_reply_and_changes_nothing(
    agent: TutorAgent,
) -> None:
    before = snapshot(agent)
    text, _ = say(agent, "B")
    assert text == "There is no open question to answer. Say “quiz me” and I will ask one."
    assert snapshot(agent) == before


@pytest.mark.parametrize(
    ("answer", "reply"),
    [("E", "'E' is not one of the choices"), ("   ", "Your answer is empty")],
)
def test_bad_answers_get_clear_replies_and_change_nothing(
    agent: TutorAgent, answer: str, reply: str
) -> None:
    say(agent, "quiz me on sensitivity and specificity")
    if open_question(agent).kind != "mcq" and answer == "E":
        pytest.skip("the chosen question is free text")
    before = snapshot(agent)
    text, _ = say(agent, answer)
    assert reply in text
    assert snapshot(agent) == before


def test_unknown_concept_gets_a_clear_reply_and_changes_nothing(agent: TutorAgent) -> None:
    before = snapshot(agent)
    text, _ = say(agent, "quiz me on unicorn anatomy")
    assert text.startswith("I don't teach “unicorn anatomy”. Topics I cover: basics")
    text, _ = say(agent, "explain quantum chromodynamics")
    assert "I don't teach" in text
    assert snapshot(agent) == before


def test_open_question_survives_a_restart(
    real_bank: Bank, minilm: MiniLMEmbedder, store_url: str, tmp_path: Path
) -> None:
    with open_learner_store(store_url) as store:
        first = TutorAgent(Tutor(real_bank, store, Grader(minilm.embed), plot_dir=tmp_path))
        say(first, "quiz me on calibration")
        question = open_question(first)
    with open_learner_store(store_url) as store:
        second = TutorAgent(Tutor(real_bank, store, Grader(minilm.embed), plot_dir=tmp_path))
        assert open_question(second) == question
        text, _ = say(second, right_answer(second))
    assert text.startswith("Correct")


def test_stop_sets_the_open_question_aside_without_an_answer(agent: TutorAgent) -> None:
    say(agent, "quiz me on calibration")
    assert agent.tutor.has_open_question(USER.user_id, USER.tenant_id)
    events = len(agent.tutor.store.events())
    text, _ = say(agent, "stop the quiz")
    assert text.startswith("Quiz paused")
    assert not agent.tutor.has_open_question(USER.user_id, USER.tenant_id)
    assert len(agent.tutor.store.events()) == events
    text, _ = say(agent, "stop")
    assert text.startswith("There is no open question to stop")


def test_a_question_before_any_quiz_is_explained_or_declined_not_graded(
    agent: TutorAgent,
) -> None:
    before = snapshot(agent)
    declined, _ = say(agent, "What premedication do patients with a prior contrast reaction need?")
    assert declined.startswith("I don't teach") and "Topics I cover:" in declined
    assert snapshot(agent) == before
    text, citations = say(agent, "What is the silhouette sign?")
    assert "silhouette" in text.lower() and citations
    assert "Check yourself:" in text
