"""The learner model: persisted learner state, answer events, and the BKT update of both.

Usage:
    model = LearnerModel(bank, params=store.load_params())
    state = LearnerState(tenant_id="acme", user_id="u1")
    model.mastery(state, "silhouette_sign")                  # the concept's P(L0) until answered
    state, event = model.record_answer(state, question, correct=True, score=1.0, method="mcq")
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, Field

from tools.tutor.bank import Bank, Question
from tools.tutor.bkt import BKTParams, update

Purpose = Literal["diagnostic", "practice", "review"]
GradeMethod = Literal["mcq", "rubric", "judge"]

PREREQUISITE_PASS = 0.7  # a dependant is offered only when every prerequisite reaches this
MASTERED = 0.95  # mastered concepts leave practice and enter spaced review
REVIEW_START = 4  # first review after this many further answers; doubles after each success
DIAGNOSTIC_ITEMS = 10
RECENT_QUESTIONS = 12
DEFAULT_PRIOR = 0.25
DEFAULT_LEARN = 0.15
DEFAULT_SLIP = 0.1
MCQ_GUESS = 0.25  # one of four choices
SHORT_GUESS = 0.08  # free text that happens to match the rubric


def default_params(bank: Bank, concept_id: str) -> BKTParams:
    """A concept's parameters before there is data: guess follows its share of mcq questions."""
    questions = bank.questions_for(concept_id)
    mcq_share = sum(q.kind == "mcq" for q in questions) / max(len(questions), 1)
    guess = mcq_share * MCQ_GUESS + (1 - mcq_share) * SHORT_GUESS
    return BKTParams(prior=DEFAULT_PRIOR, learn=DEFAULT_LEARN, guess=guess, slip=DEFAULT_SLIP)


def utc_now() -> str:
    """The current time as an ISO-8601 UTC string (how the store keeps timestamps)."""
    return datetime.now(UTC).isoformat(timespec="seconds")


class ConceptState(BaseModel):
    """What the tutor knows about one learner on one concept."""

    mastery: float = Field(ge=0, le=1)
    attempts: int = 0
    correct: int = 0
    last_step: int | None = None
    review_interval: int = 0
    review_due_step: int | None = None


class PendingQuestion(BaseModel):
    """The question the learner was asked and has not finished; it survives restarts."""

    question_id: str
    purpose: Purpose
    asked_step: int
    hints_given: int = 0
    wrong_attempts: int = 0
    focus: tuple[str, ...] = ()


class Diagnostic(BaseModel):
    """The placement diagnostic: its planned questions and how many were answered."""

    plan: list[str]
    done: int = 0

    @property
    def finished(self) -> bool:
        """Whether every planned item was answered."""
        return self.done >= len(self.plan)


class LearnerState(BaseModel):
    """Everything persisted about one learner (events are stored separately)."""

    tenant_id: str = ""
    user_id: str
    step: int = 0
    concepts: dict[str, ConceptState] = Field(default_factory=dict)
    diagnostic: Diagnostic | None = None
    pending: PendingQuestion | None = None
    recent: list[str] = Field(default_factory=list)
    seen: dict[str, int] = Field(default_factory=dict)
    last_topic: str | None = None
    last_concept: str | None = None
    last_purpose: Purpose | None = None


class AnswerEvent(BaseModel):
    """One graded answer. `counted` answers (first attempts without help) feed BKT and EM."""

    tenant_id: str = ""
    user_id: str
    ts: str
    question_id: str
    concepts: list[str]
    purpose: Purpose
    attempt: int = Field(ge=1)
    correct: bool
    counted: bool
    score: float = Field(ge=0, le=1)
    method: GradeMethod
    mastery: dict[str, float] = Field(description="mastery of the tested concepts afterwards")


class LearnerModel:
    """Mastery estimates and their updates, with fitted parameters where there are any."""

    def __init__(self, bank: Bank, params: Mapping[str, BKTParams] | None = None) -> None:
        self.bank = bank
        self._params = {c.id: default_params(bank, c.id) for c in bank.concepts}
        self._params.update({k: v for k, v in (params or {}).items() if k in self._params})

    def params(self, concept_id: str) -> BKTParams:
        """The BKT parameters in force for a concept (fitted, else default)."""
        return self._params[concept_id]

    def set_params(self, params: Mapping[str, BKTParams]) -> None:
        """Use newly fitted parameters for the concepts they name."""
        self._params.update({k: v for k, v in params.items() if k in self._params})

    def mastery(self, state: LearnerState, concept_id: str) -> float:
        """P(known) for a concept: the learner's estimate, else the concept's prior."""
        known = state.concepts.get(concept_id)
        return known.mastery if known is not None else self._params[concept_id].prior

    def masteries(self, state: LearnerState) -> dict[str, float]:
        """P(known) for every concept, in curriculum order."""
        return {c.id: self.mastery(state, c.id) for c in self.bank.concepts}

    def unlocked(self, state: LearnerState, concept_id: str) -> bool:
        """Whether every prerequisite of the concept has reached the pass mark."""
        return all(
            self.mastery(state, pre) >= PREREQUISITE_PASS
            for pre in self.bank.concept(concept_id).prerequisites
        )

    def record_answer(
        self,
        state: LearnerState,
        question: Question,
        *,
        correct: bool,
        score: float,
        method: GradeMethod,
        counted: bool,
        attempt: int,
        purpose: Purpose,
        now: str | None = None,
    ) -> tuple[LearnerState, AnswerEvent]:
        """The learner's state after one graded answer, and the event that records it.

        Counted answers update BKT mastery and the review schedule of each tested concept.
        The input state is not modified.
        """
        new = state.model_copy(deep=True)
        new.step += 1
        for cid in question.concepts:
            before = new.concepts.get(cid) or ConceptState(mastery=self.mastery(state, cid))
            after = before.model_copy()
            after.last_step = new.step
            if counted:
                after.attempts += 1
                after.correct += int(correct)
                after.mastery = update(before.mastery, correct, self._params[cid])
                _schedule_review(after, new.step, correct, purpose)
            new.concepts[cid] = after
        if purpose == "diagnostic" and new.diagnostic is not None and attempt == 1:
            new.diagnostic.done += 1
        event = AnswerEvent(
            tenant_id=state.tenant_id,
            user_id=state.user_id,
            ts=now or utc_now(),
            question_id=question.id,
            concepts=list(question.concepts),
            purpose=purpose,
            attempt=attempt,
            correct=correct,
            counted=counted,
            score=score,
            method=method,
            mastery={cid: new.concepts[cid].mastery for cid in question.concepts},
        )
        return new, event


def _schedule_review(concept: ConceptState, step: int, correct: bool, purpose: Purpose) -> None:
    """Spaced review: first due REVIEW_START answers after mastery; doubles on each success."""
    if concept.mastery < MASTERED:
        concept.review_interval = 0
        concept.review_due_step = None
        return
    if concept.review_interval == 0:
        concept.review_interval = REVIEW_START
    elif purpose == "review":
        concept.review_interval = concept.review_interval * 2 if correct else REVIEW_START
    concept.review_due_step = step + concept.review_interval


def sequences_by_concept(events: Iterable[AnswerEvent]) -> dict[str, list[list[bool]]]:
    """Counted answers grouped per concept into one sequence per learner, in answer order."""
    per: dict[str, dict[tuple[str, str], list[bool]]] = defaultdict(dict)
    for event in events:
        if not event.counted:
            continue
        for cid in event.concepts:
            per[cid].setdefault((event.tenant_id, event.user_id), []).append(event.correct)
    return {cid: list(by_learner.values()) for cid, by_learner in per.items()}


def mastery_history(events: Sequence[AnswerEvent]) -> dict[str, list[tuple[int, float]]]:
    """Per concept, (answer number, mastery afterwards) for each counted answer, for plotting."""
    history: dict[str, list[tuple[int, float]]] = defaultdict(list)
    for n, event in enumerate((e for e in events if e.counted), start=1):
        for cid, value in event.mastery.items():
            history[cid].append((n, value))
    return dict(history)
