"""The tutor's tools end to end on the fixture bank, a SQLite store and the real MiniLM."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tools.models.embedder import MiniLMEmbedder
from tools.tutor.bank import Bank
from tools.tutor.engine import NoOpenQuestion, Tutor, UnknownConcept
from tools.tutor.grading import AnswerRejected, Grader
from tools.tutor.learner_store import LearnerStore, open_learner_store
from tools.tutor.refit import refit_params
from tools.tutor.wire import (
    ExplainInput,
    GradeAnswerInput,
    HintInput,
    NextQuestionInput,
    ProgressInput,
)

USER = {"user_id": "learner-1", "tenant_id": "acme"}


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'tutor.sqlite'}"


@pytest.fixture
def store(store_url: str) -> Iterator[LearnerStore]:
    with open_learner_store(store_url) as opened:
        yield opened


@pytest.fixture
def tutor(bank: Bank, store: LearnerStore, minilm: MiniLMEmbedder, tmp_path: Path) -> Tutor:
    return Tutor(bank, store, Grader(minilm.embed), plot_dir=tmp_path / "plots", seed=1)


def _snapshot(tutor: Tutor) -> tuple[object, int]:
    return tutor.store.load("acme", "learner-1"), len(tutor.store.events())


def _practice(tutor: Tutor, concept: str = "projections") -> str:
    """Pose a practice question on `concept` (skipping the diagnostic) and return its id."""
    asked = tutor.next_question(NextQuestionInput(**USER, focus=[concept]))
    assert asked.question.purpose == "practice"
    return asked.question.question_id


def test_new_learner_starts_with_the_diagnostic(tutor: Tutor) -> None:
    asked = tutor.next_question(NextQuestionInput(**USER))
    assert asked.question.purpose == "diagnostic"
    assert asked.question.reason == "diagnostic item 1 of 10"
    assert [c[:3] for c in asked.question.choices] == ["A. ", "B. ", "C. ", "D. "]


def test_answer_without_an_open_question_changes_nothing(tutor: Tutor) -> None:
    before = _snapshot(tutor)
    with pytest.raises(NoOpenQuestion, match="no open question"):
        tutor.grade_answer(GradeAnswerInput(**USER, answer="B"))
    assert _snapshot(tutor) == before


@pytest.mark.parametrize(("answer", "message"), [("F", "not one of the choices"), ("  ", "empty")])
def test_bad_answers_are_refused_and_change_nothing(
    tutor: Tutor, answer: str, message: str
) -> None:
    _practice(tutor)
    before = _snapshot(tutor)
    with pytest.raises(AnswerRejected, match=message):
        tutor.grade_answer(GradeAnswerInput(**USER, answer=answer))
    assert _snapshot(tutor) == before


def test_unknown_concept_is_refused_and_changes_nothing(tutor: Tutor) -> None:
    before = _snapshot(tutor)
    message = re.escape("I don't teach “unicorns”. Topics I cover: basics")
    with pytest.raises(UnknownConcept, match=message):
        tutor.next_question(NextQuestionInput(**USER, focus=["unicorns"]))
    with pytest.raises(UnknownConcept):
        tutor.explain_concept(ExplainInput(concept="unicorns"))
    assert _snapshot(tutor) == before


def test_wrong_answers_get_nudge_then_pointer_then_worked_answer(tutor: Tutor) -> None:
    qid = _practice(tutor)
    first = tutor.grade_answer(GradeAnswerInput(**USER, answer="A"))
    assert not first.grade.correct and first.counted and not first.closed
    assert first.hint is not None and first.hint.kind == "nudge"
    assert "You can rule out C" in first.hint.text  # not the one the learner chose
    second = tutor.grade_answer(GradeAnswerInput(**USER, answer="C"))
    assert not second.counted and second.hint is not None and second.hint.kind == "pointer"
    assert "[concept: projections]" in second.hint.text
    third = tutor.grade_answer(GradeAnswerInput(**USER, answer="D"))
    assert third.closed and third.hint is not None and third.hint.kind == "worked"
    assert third.hint.text.startswith(f"Worked answer: projections right {qid.split('_')[1]}")
    assert "[concept: projections]" in third.explanation
    events = tutor.store.events("acme", "learner-1")
    assert [(e.attempt, e.counted) for e in events] == [(1, True), (2, False), (3, False)]
    assert tutor.learner(tutor_ref()).pending is None


def tutor_ref() -> NextQuestionInput:
    return NextQuestionInput(**USER)


def test_right_answer_closes_with_a_cited_explanation_and_raises_mastery(tutor: Tutor) -> None:
    _practice(tutor)
    before = tutor.model.mastery(tutor.learner(tutor_ref()), "projections")
    graded = tutor.grade_answer(GradeAnswerInput(**USER, answer="B"))
    assert graded.grade.correct and graded.closed and graded.counted
    assert graded.mastery["projections"] > before
    assert graded.citations == ["[concept: projections]"]


def test_hints_on_request_climb_to_the_worked_answer_which_closes(tutor: Tutor) -> None:
    _practice(tutor)
    kinds = [tutor.give_hint(HintInput(**USER)).kind for _ in range(3)]
    assert kinds == ["nudge", "pointer", "worked"]
    with pytest.raises(NoOpenQuestion):
        tutor.give_hint(HintInput(**USER))


def test_answer_after_a_hint_is_recorded_but_not_counted(tutor: Tutor) -> None:
    _practice(tutor)
    tutor.give_hint(HintInput(**USER))
    graded = tutor.grade_answer(GradeAnswerInput(**USER, answer="B"))
    assert graded.grade.correct and not graded.counted
    assert tutor.learner(tutor_ref()).concepts["projections"].attempts == 0


def test_open_question_survives_a_restart(
    bank: Bank, store_url: str, minilm: MiniLMEmbedder, tmp_path: Path
) -> None:
    with open_learner_store(store_url) as store:
        first = Tutor(bank, store, Grader(minilm.embed), plot_dir=tmp_path)
        asked = first.next_question(NextQuestionInput(**USER))
    with open_learner_store(store_url) as store:
        second = Tutor(bank, store, Grader(minilm.embed), plot_dir=tmp_path)
        graded = second.grade_answer(GradeAnswerInput(**USER, answer="B"))
        assert graded.question_id == asked.question.question_id
        assert second.learner(tutor_ref()).diagnostic is not None


def test_focus_on_a_locked_concept_explains_the_prerequisite(tutor: Tutor) -> None:
    asked = tutor.next_question(NextQuestionInput(**USER, focus=["ppv"]))
    assert asked.question.concepts == ["sensitivity"]
    assert "PPV and prevalence builds on Sensitivity and specificity" in asked.question.reason


def test_explain_concept_by_title_cites_the_curriculum(tutor: Tutor) -> None:
    explained = tutor.explain_concept(ExplainInput(concept="the silhouette sign"))
    assert explained.concept_id == "silhouette_sign"
    assert explained.citation == "[concept: silhouette_sign]"
    assert explained.prerequisites == ["projections"]


def test_progress_report_has_a_table_and_a_png(tutor: Tutor) -> None:
    empty = tutor.progress_report(ProgressInput(**USER))
    assert empty.answered == 0 and empty.plot_path is None and empty.diagnostic == "not taken"
    for _ in range(3):
        tutor.next_question(NextQuestionInput(**USER))
        tutor.grade_answer(GradeAnswerInput(**USER, answer="B"))
    report = tutor.progress_report(ProgressInput(**USER))
    assert (report.answered, report.correct) == (3, 3)
    assert report.diagnostic == "3 of 10 items answered"
    statuses = {r.concept_id: r.status for r in report.rows}
    assert statuses["projections"] in {"learning", "passed"} and statuses["ppv"] == "locked"
    assert report.plot_path is not None
    assert Path(report.plot_path).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "learner-1" not in report.plot_path


def test_refit_fits_concepts_with_enough_logged_answers(tutor: Tutor) -> None:
    for n in range(40):
        ref = {"user_id": f"sim-{n}", "tenant_id": "acme"}
        for k in range(5):
            tutor.next_question(NextQuestionInput(**ref, focus=["sensitivity"]))
            tutor.grade_answer(GradeAnswerInput(**ref, answer="B" if (n + k) % 3 else "A"))
    fitted = refit_params(tutor.model, tutor.store, min_sequences=30, min_observations=100)
    assert "sensitivity" in fitted and fitted["sensitivity"].sequences == 40
    assert tutor.store.load_params()["sensitivity"] == fitted["sensitivity"]
    assert tutor.model.params("sensitivity") == fitted["sensitivity"].bkt()


def test_open_question_that_left_the_bank_is_dropped_with_a_clear_reply(tutor: Tutor) -> None:
    _practice(tutor)
    state = tutor.learner(tutor_ref())
    assert state.pending is not None
    gone = state.pending.model_copy(update={"question_id": "case-removed-1"})
    tutor.store.save(state.model_copy(update={"pending": gone}))
    with pytest.raises(NoOpenQuestion, match="no longer in the question bank"):
        tutor.grade_answer(GradeAnswerInput(**USER, answer="B"))
    assert tutor.learner(tutor_ref()).pending is None
