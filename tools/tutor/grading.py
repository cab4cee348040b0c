"""Grade a learner's answer: multiple choice exactly, free text by rubric + MiniLM, or a judge.

Multiple choice accepts a letter (`B`, `(b)`, `answer: B`), a number (`2`) or the choice's
text. Free text scores the rubric keywords it covers (light stemming, multi-word keywords in
order) and its embedding cosine to the model answer. With a judge (an LLM behind `ModelAccess`,
supplied by the agent), the judge grades free text instead, and the rubric is the fallback
when the judge fails. Every result says why.

Usage:
    grader = Grader(embed=shared_embeddings.embed)
    result = grader.grade(question, "B")
    result.correct, result.feedback
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from typing import Protocol

import numpy as np

from state.errors import InputError, ModelEndpointError
from tools.tutor.bank import Question
from tools.tutor.wire import GradeResult, JudgeVerdict

log = logging.getLogger(__name__)

LETTERS = "ABCD"
KEYWORD_WEIGHT = 0.6
SIMILARITY_FLOOR = 0.25  # cosine at or below which similarity adds nothing
SIMILARITY_CEILING = 0.75  # cosine at or above which similarity adds its full weight
PASS_SCORE = 0.55
MIN_KEYWORD_SHARE = 0.5
MAX_ANSWER_CHARS = 2000

_CHOICE = re.compile(
    r"^(?:(?:my\s+)?(?:final\s+)?answer(?:\s+is)?\s*[:\-]?\s*|(?:option|choice)\s+|"
    r"i\s+(?:think|choose|pick|say)\s+(?:it'?s\s+|it\s+is\s+)?)?"
    r"[(\[]?([a-z]|\d{1,2})[)\].]?\s*[.!]?$",
    re.IGNORECASE,
)
_WORD = re.compile(r"[a-z0-9]+")

Embed = Callable[[Sequence[str]], np.ndarray]


class AnswerJudge(Protocol):
    """Grades a free-text answer against the model answer (an LLM judge in production)."""

    def __call__(self, question: Question, answer: str) -> JudgeVerdict: ...


class AnswerRejected(InputError):
    """The answer cannot be graded (empty, too long, not one of the choices)."""


def light_stem(word: str) -> str:
    """A small suffix stripper so that `borders`/`border` and `silhouetting`/`silhouette` meet."""
    if len(word) > 4 and word.endswith("ies"):
        word = word[:-3] + "y"
    elif len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    if len(word) > 5 and word.endswith("ing"):
        word = word[:-3]
    elif len(word) > 4 and word.endswith("ed"):
        word = word[:-2]
    if len(word) > 3 and word.endswith("e"):
        word = word[:-1]
    return word


def stems(text: str) -> list[str]:
    """The text's lowercase words, light-stemmed."""
    return [light_stem(w) for w in _WORD.findall(text.lower())]


def keyword_present(keyword: str, answer_stems: Sequence[str]) -> bool:
    """Whether the keyword's stems occur in the answer, consecutively and in order."""
    target = stems(keyword)
    if not target:
        return False
    width = len(target)
    return any(
        list(answer_stems[i : i + width]) == target for i in range(len(answer_stems) - width + 1)
    )


def parse_choice(question: Question, answer: str) -> int:
    """The index of the choice an answer names; AnswerRejected when it names none."""
    text = answer.strip()
    count = len(question.choices)
    match = _CHOICE.match(text)
    if match:
        token = match.group(1).upper()
        index = int(token) - 1 if token.isdigit() else ord(token) - ord("A")
        if 0 <= index < count:
            return index
        raise AnswerRejected(
            f"'{match.group(1)}' is not one of the choices: answer with a letter "
            f"{LETTERS[0]}–{LETTERS[count - 1]} (or the text of a choice)."
        )
    normal = " ".join(_WORD.findall(text.lower()))
    for index, choice in enumerate(question.choices):
        if normal and normal == " ".join(_WORD.findall(choice.text.lower())):
            return index
    raise AnswerRejected(
        f"I could not tell which choice you meant: answer with a letter "
        f"{LETTERS[0]}–{LETTERS[count - 1]} or paste the text of a choice."
    )


class Grader:
    """Grades answers; `embed` is the guarded MiniLM embedder, `judge` is optional."""

    def __init__(self, embed: Embed, judge: AnswerJudge | None = None) -> None:
        self._embed = embed
        self._judge = judge

    def grade(self, question: Question, answer: str) -> GradeResult:
        """Grade one answer; AnswerRejected for empty, oversized or unparseable answers."""
        if not answer.strip():
            raise AnswerRejected("Your answer is empty: type a letter or a sentence.")
        if len(answer) > MAX_ANSWER_CHARS:
            raise AnswerRejected(
                f"Your answer is {len(answer)} characters long; keep it under {MAX_ANSWER_CHARS}."
            )
        if question.kind == "mcq":
            return grade_choice(question, parse_choice(question, answer))
        if self._judge is not None:
            try:
                return self._judged(question, answer, self._judge)
            except ModelEndpointError as exc:
                log.warning("tutor_judge_failed error=%s", exc.__class__.__name__)
                rubric = self.rubric(question, answer)
                return rubric.model_copy(
                    update={
                        "feedback": rubric.feedback + " (The judge model failed; graded by rubric.)"
                    }
                )
        return self.rubric(question, answer)

    def rubric(self, question: Question, answer: str) -> GradeResult:
        """Rubric keywords plus embedding similarity to the model answer."""
        words = stems(answer)
        matched = [k for k in question.rubric_keywords if keyword_present(k, words)]
        missing = [k for k in question.rubric_keywords if k not in matched]
        share = len(matched) / len(question.rubric_keywords)
        vectors = self._embed([answer, question.answer])
        similarity = float(np.dot(vectors[0], vectors[1]))
        scaled = (similarity - SIMILARITY_FLOOR) / (SIMILARITY_CEILING - SIMILARITY_FLOOR)
        score = KEYWORD_WEIGHT * share + (1 - KEYWORD_WEIGHT) * float(np.clip(scaled, 0, 1))
        correct = score >= PASS_SCORE and share >= MIN_KEYWORD_SHARE
        covered = ", ".join(matched) if matched else "none of the key ideas"
        feedback = (
            f"Your answer covers {len(matched)} of {len(question.rubric_keywords)} key ideas "
            f"({covered}); its meaning is {similarity:.2f} similar to the model answer "
            f"(score {score:.2f}, pass {PASS_SCORE:.2f})."
        )
        return GradeResult(
            correct=correct,
            score=round(score, 4),
            method="rubric",
            feedback=feedback,
            matched_keywords=matched,
            missing_keywords=missing,
            similarity=round(similarity, 4),
        )

    def _judged(self, question: Question, answer: str, judge: AnswerJudge) -> GradeResult:
        verdict = judge(question, answer)
        return GradeResult(
            correct=verdict.correct,
            score=verdict.score,
            method="judge",
            feedback=f"The judge model says: {verdict.reasoning}",
            missing_keywords=list(verdict.missing_points),
        )


def grade_choice(question: Question, index: int) -> GradeResult:
    """Deterministic multiple-choice grading, with the chosen option's rationale as the why."""
    choice = question.choices[index]
    letter = LETTERS[index]
    verdict = "Correct" if choice.correct else "Not quite"
    return GradeResult(
        correct=choice.correct,
        score=1.0 if choice.correct else 0.0,
        method="mcq",
        feedback=f"{verdict}: you chose {letter}. {choice.rationale}",
        chosen=letter,
    )
