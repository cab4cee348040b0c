"""Grading: multiple choice by letter or text, free text by rubric + MiniLM, judge and fallback."""

from __future__ import annotations

import pytest

from state.errors import ModelEndpointError
from tools.models.embedder import MiniLMEmbedder
from tools.tutor.bank import Bank, Question
from tools.tutor.grading import (
    AnswerRejected,
    Grader,
    keyword_present,
    light_stem,
    parse_choice,
    stems,
)
from tools.tutor.wire import JudgeVerdict

SILHOUETTE = Question(
    id="sil-short",
    kind="short",
    concepts=("silhouette_sign",),
    bloom="application",
    difficulty="medium",
    stem="What is the silhouette sign and why is it useful?",
    answer=(
        "When an opacity of soft-tissue density touches the heart or diaphragm, the border "
        "between them disappears; the lost border tells you the opacity lies in the adjacent "
        "lobe, which localises it."
    ),
    rubric_keywords=("border", "touches", "lobe"),
    explanation="Loss of a normal border localises an opacity to the lobe touching it.",
)


@pytest.fixture(scope="module")
def grader(minilm: MiniLMEmbedder) -> Grader:
    return Grader(embed=minilm.embed)


@pytest.mark.parametrize(
    ("answer", "index"),
    [("B", 1), ("b", 1), ("(c)", 2), ("answer: D", 3), ("I think a", 0), ("2", 1), ("B.", 1)],
)
def test_choice_is_read_from_letters_and_numbers(bank: Bank, answer: str, index: int) -> None:
    assert parse_choice(bank.question("ppv_easy_mcq"), answer) == index


def test_choice_is_read_from_its_text(bank: Bank) -> None:
    question = bank.question("ppv_easy_mcq")
    assert parse_choice(question, "  PPV right easy. ") == 1


@pytest.mark.parametrize("answer", ["E", "z", "5", "(f)"])
def test_out_of_range_choice_is_rejected_clearly(bank: Bank, answer: str) -> None:
    with pytest.raises(AnswerRejected, match="not one of the choices: answer with a letter A–D"):
        parse_choice(bank.question("ppv_easy_mcq"), answer)


def test_unrecognised_choice_text_is_rejected(bank: Bank) -> None:
    with pytest.raises(AnswerRejected, match="could not tell which choice"):
        parse_choice(bank.question("ppv_easy_mcq"), "something else entirely")


def test_mcq_grade_gives_the_chosen_rationale(grader: Grader, bank: Bank) -> None:
    right = grader.grade(bank.question("ppv_easy_mcq"), "b")
    wrong = grader.grade(bank.question("ppv_easy_mcq"), "C")
    assert right.correct and right.score == 1.0 and right.chosen == "B"
    assert right.feedback.startswith("Correct: you chose B.")
    assert not wrong.correct and "Not so, this confuses two ideas." in wrong.feedback


@pytest.mark.parametrize("answer", ["", "   \n"])
def test_empty_answer_is_rejected(grader: Grader, bank: Bank, answer: str) -> None:
    with pytest.raises(AnswerRejected, match="empty"):
        grader.grade(bank.question("ppv_short"), answer)


def test_light_stem_matches_inflections() -> None:
    assert light_stem("borders") == light_stem("border")
    assert light_stem("silhouetting") == light_stem("silhouette")
    assert light_stem("opacities") == light_stem("opacity")
    assert keyword_present("lower-lobe", stems("The lower lobes are"))
    assert not keyword_present("spine sign", stems("a sign of the spine"))


def test_paraphrased_free_text_passes_with_its_reasons(grader: Grader) -> None:
    result = grader.grade(
        SILHOUETTE,
        "If a lesion touches the heart its border vanishes, so you can tell which lobe it is in.",
    )
    assert result.correct and result.method == "rubric"
    assert result.matched_keywords == ["border", "touches", "lobe"]
    assert result.similarity is not None and result.similarity > 0.5
    assert "covers 3 of 3 key ideas" in result.feedback


def test_partial_free_text_fails_and_names_what_is_missing(grader: Grader) -> None:
    result = grader.grade(SILHOUETTE, "It is a sign seen on chest films near the heart border.")
    assert not result.correct
    assert result.missing_keywords == ["touches", "lobe"]


def test_off_topic_free_text_fails(grader: Grader) -> None:
    result = grader.grade(SILHOUETTE, "Sensitivity is the true positive rate of a test.")
    assert not result.correct and result.matched_keywords == []
    assert result.similarity is not None and result.similarity < 0.4


def test_judge_grades_free_text_when_configured(minilm: MiniLMEmbedder) -> None:
    def judge(question: Question, answer: str) -> JudgeVerdict:
        return JudgeVerdict(correct=True, score=0.9, reasoning="It names the lost border.")

    result = Grader(minilm.embed, judge=judge).grade(SILHOUETTE, "the border goes away")
    assert result.correct and result.method == "judge"
    assert result.feedback == "The judge model says: It names the lost border."


def test_failed_judge_falls_back_to_the_rubric_and_says_so(minilm: MiniLMEmbedder) -> None:
    def judge(question: Question, answer: str) -> JudgeVerdict:
        raise ModelEndpointError("cannot reach the judge model")

    result = Grader(minilm.embed, judge=judge).grade(SILHOUETTE, "the border goes away")
    assert result.method == "rubric"
    assert result.feedback.endswith("(The judge model failed; graded by rubric.)")
