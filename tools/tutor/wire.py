"""Wire shapes of the tutor: tool inputs and outputs, grading results and the judge's verdict."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from tools.tutor.bank import Bloom, Difficulty, Kind
from tools.tutor.learner import GradeMethod, Purpose

HintKind = Literal["nudge", "pointer", "worked"]


class LearnerRef(BaseModel):
    """Whose learner state a tool works on."""

    user_id: str = Field(min_length=1, max_length=200)
    tenant_id: str = Field(default="", max_length=200)


class NextQuestionInput(LearnerRef):
    """Arguments of `next_question`."""

    focus: list[str] = Field(
        default_factory=list, description="concept ids, titles or topics to practise"
    )
    diagnostic: bool = Field(default=False, description="start the placement diagnostic")


class QuestionView(BaseModel):
    """A question as the learner sees it: no answer, no rationales."""

    question_id: str
    kind: Kind
    stem: str
    choices: list[str] = Field(description="'A. …' labelled choices (mcq only)")
    concepts: list[str]
    difficulty: Difficulty
    bloom: Bloom
    purpose: Purpose
    reason: str = Field(description="why this question now")


class NextQuestionOutput(BaseModel):
    """The question put to the learner, and a note (e.g. a prerequisite comes first)."""

    question: QuestionView
    note: str = ""


class GradeAnswerInput(LearnerRef):
    """Arguments of `grade_answer`: the learner's answer to the pending question."""

    answer: str


class GradeResult(BaseModel):
    """How an answer was graded and why."""

    correct: bool
    score: float = Field(ge=0, le=1)
    method: GradeMethod
    feedback: str
    chosen: str | None = Field(default=None, description="the letter chosen (mcq)")
    matched_keywords: list[str] = Field(default_factory=list)
    missing_keywords: list[str] = Field(default_factory=list)
    similarity: float | None = None


class HintView(BaseModel):
    """One graduated hint: nudge (1), pointer to the concept (2), worked answer (3)."""

    level: int = Field(ge=1, le=3)
    kind: HintKind
    text: str
    citations: list[str] = Field(default_factory=list)


class GradeAnswerOutput(BaseModel):
    """The grade, mastery afterwards, and what happens next with the question."""

    question_id: str
    grade: GradeResult
    counted: bool = Field(description="whether the answer updated mastery (first, unaided try)")
    mastery: dict[str, float]
    hint: HintView | None = Field(default=None, description="the next hint after a wrong try")
    closed: bool = Field(description="whether the question is finished")
    explanation: str = Field(default="", description="the explanation, once the question closes")
    citations: list[str] = Field(default_factory=list)


class HintInput(LearnerRef):
    """Arguments of `give_hint`: a hint on the pending question."""


class ExplainInput(BaseModel):
    """Arguments of `explain_concept`."""

    concept: str = Field(min_length=1, max_length=200, description="concept id or title")


class ConceptExplanation(BaseModel):
    """A concept's curriculum text, key points and citation."""

    concept_id: str
    title: str
    topic: str
    text: str
    key_points: list[str]
    prerequisites: list[str]
    citation: str


class ProgressInput(LearnerRef):
    """Arguments of `progress_report`."""

    plot: bool = Field(default=True, description="also write the mastery-over-time PNG")


class ProgressRow(BaseModel):
    """One concept's line in the progress table."""

    concept_id: str
    title: str
    topic: str
    mastery: float
    attempts: int
    correct: int
    status: Literal["mastered", "passed", "learning", "weak", "locked", "not started"]


class ProgressReport(BaseModel):
    """The learner's table of concepts, totals and the plot's path."""

    rows: list[ProgressRow]
    answered: int
    correct: int
    diagnostic: str
    plot_path: str | None = None


class JudgeVerdict(BaseModel):
    """The judge model's grade of a free-text answer against the model answer."""

    correct: bool = Field(description="true when the answer is substantially right")
    score: float = Field(ge=0, le=1, description="0 = wrong, 1 = fully right")
    reasoning: str = Field(max_length=600, description="one or two sentences: why")
    missing_points: list[str] = Field(
        default_factory=list, max_length=5, description="key ideas the answer leaves out"
    )
