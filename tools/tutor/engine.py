"""The tutor's five tools over one bank and one learner store: ask, grade, hint, explain, report.

Bad input (an answer with no open question, an out-of-range choice, an empty answer, an unknown
concept) raises an `InputError` subclass whose message is the reply, and changes nothing.

Usage:
    tutor = Tutor(bank, store, Grader(embed), plot_dir=data_dir / "tutor")
    asked = tutor.next_question(NextQuestionInput(user_id="u1", focus=["pneumothorax"]))
    graded = tutor.grade_answer(GradeAnswerInput(user_id="u1", answer="B"))
    report = tutor.progress_report(ProgressInput(user_id="u1"))
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

from state.errors import InputError
from tools.tutor.bank import Bank, Question
from tools.tutor.concept_lookup import ConceptIndex
from tools.tutor.grading import LETTERS, Grader
from tools.tutor.hints import (
    MAX_HINT_LEVEL,
    closing_explanation,
    explain,
    graduated_hint,
    worked,
)
from tools.tutor.learner import LearnerModel, LearnerState, PendingQuestion, Purpose
from tools.tutor.learner_store import ErasedCounts, LearnerStore, StoredParams
from tools.tutor.progress import progress_report
from tools.tutor.refit import refit_params
from tools.tutor.selection import mark_asked, select_next, start_diagnostic
from tools.tutor.wire import (
    ConceptExplanation,
    ExplainInput,
    GradeAnswerInput,
    GradeAnswerOutput,
    HintInput,
    HintView,
    LearnerRef,
    NextQuestionInput,
    NextQuestionOutput,
    ProgressInput,
    ProgressReport,
    QuestionView,
)


class NoOpenQuestion(InputError):
    """An answer or a hint was asked for, but no question is open."""


class UnknownConcept(InputError):
    """The named concept or topic is not in the curriculum (or is ambiguous)."""


def question_view(question: Question, purpose: Purpose, reason: str) -> QuestionView:
    """The learner-facing view of a question: labelled choices, no answer, no rationales."""
    return QuestionView(
        question_id=question.id,
        kind=question.kind,
        stem=question.stem,
        choices=[f"{LETTERS[i]}. {c.text}" for i, c in enumerate(question.choices)],
        concepts=list(question.concepts),
        difficulty=question.difficulty,
        bloom=question.bloom,
        purpose=purpose,
        reason=reason,
    )


class Tutor:
    """Adaptive tutoring over a bank; learner state lives in the store and survives restarts."""

    def __init__(
        self, bank: Bank, store: LearnerStore, grader: Grader, *, plot_dir: Path, seed: int = 0
    ) -> None:
        self.bank = bank
        self.index = ConceptIndex(bank)
        self.store = store
        self.grader = grader
        self.plot_dir = plot_dir
        self.seed = seed
        self.model = LearnerModel(bank, {k: v.bkt() for k, v in store.load_params().items()})
        self._lock = threading.Lock()

    def learner(self, ref: LearnerRef) -> LearnerState:
        """The learner's stored state, or a fresh one for a new learner."""
        return self.store.load(ref.tenant_id, ref.user_id) or LearnerState(
            tenant_id=ref.tenant_id, user_id=ref.user_id
        )

    def has_open_question(self, user_id: str, tenant_id: str = "") -> bool:
        """Whether the learner owes an answer (the supervisor sends their next message here)."""
        state = self.store.load(tenant_id, user_id)
        return state is not None and state.pending is not None

    def close_question(self, ref: LearnerRef) -> bool:
        """Set the open question aside without an answer; False when none was open."""
        with self._lock:
            state = self.learner(ref)
            if state.pending is None:
                return False
            self.store.save(state.model_copy(update={"pending": None}))
            return True

    def resolve(self, phrases: Sequence[str]) -> list[str]:
        """Concept ids for concept ids, titles or topics; UnknownConcept when one names none."""
        found: list[str] = []
        for phrase in phrases:
            ids = [phrase] if self.bank.has_concept(phrase) else self.index.find(phrase)
            if not ids:
                raise UnknownConcept(
                    f"I don't teach “{phrase}”. Topics I cover: {self.index.topics()}."
                )
            found += [i for i in ids if i not in found]
        return found

    def next_question(self, args: NextQuestionInput) -> NextQuestionOutput:
        """Choose and pose the learner's next question (the diagnostic first for a new learner)."""
        with self._lock:
            focus = self.resolve(args.focus)
            state = self.learner(args)
            notes: list[str] = []
            if state.pending is not None:
                notes.append("I set aside the question you had open.")
            diagnostic = state.diagnostic
            if diagnostic is None and (args.diagnostic or (not focus and state.step == 0)):
                state = start_diagnostic(self.bank, state, self.seed)
            elif args.diagnostic and diagnostic is not None and diagnostic.finished:
                notes.append("You have finished the diagnostic; here is what I recommend next.")
            pick = select_next(self.model, state, focus=focus, seed=self.seed)
            state = mark_asked(self.bank, state, pick, focus)
            self.store.save(state)
        view = question_view(pick.question, pick.purpose, pick.reason)
        return NextQuestionOutput(question=view, note=" ".join(notes))

    def grade_answer(self, args: GradeAnswerInput) -> GradeAnswerOutput:
        """Grade the answer to the open question, update mastery, and hint or close."""
        with self._lock:
            state = self.learner(args)
            pending = state.pending
            if pending is None:
                raise NoOpenQuestion(
                    "There is no open question to answer. Say “quiz me” and I will ask one."
                )
            question = self._open_question(state, pending)
            grade = self.grader.grade(question, args.answer)
            attempt = pending.wrong_attempts + 1
            counted = attempt == 1 and pending.hints_given == 0
            new, event = self.model.record_answer(
                state,
                question,
                correct=grade.correct,
                score=grade.score,
                method=grade.method,
                counted=counted,
                attempt=attempt,
                purpose=pending.purpose,
            )
            level = pending.hints_given + 1
            closes = grade.correct or pending.purpose == "diagnostic" or level >= MAX_HINT_LEVEL
            hint: HintView | None = None
            explanation, citations = "", []
            if closes:
                new.pending = None
                explanation, citations = closing_explanation(self.bank, question)
                if not grade.correct:
                    hint = worked(self.bank, question)
            else:
                chosen = LETTERS.index(grade.chosen) if grade.chosen else None
                hint = graduated_hint(
                    self.bank, question, level, chosen=chosen, missing=grade.missing_keywords
                )
                new.pending = pending.model_copy(
                    update={"wrong_attempts": attempt, "hints_given": level}
                )
            self.store.record(new, event)
        return GradeAnswerOutput(
            question_id=question.id,
            grade=grade,
            counted=counted,
            mastery=event.mastery,
            hint=hint,
            closed=closes,
            explanation=explanation,
            citations=citations,
        )

    def _open_question(self, state: LearnerState, pending: PendingQuestion) -> Question:
        """The open question; one that left the bank (e.g. a changed case set) is dropped."""
        if self.bank.has_question(pending.question_id):
            return self.bank.question(pending.question_id)
        self.store.save(state.model_copy(update={"pending": None}))
        raise NoOpenQuestion(
            "Your open question is no longer in the question bank, so I dropped it. "
            "Say “quiz me” for a new one."
        )

    def give_hint(self, args: HintInput) -> HintView:
        """The next graduated hint on the open question; the third (worked answer) closes it."""
        with self._lock:
            state = self.learner(args)
            pending = state.pending
            if pending is None:
                raise NoOpenQuestion("There is no open question to hint at. Say “quiz me” first.")
            question = self._open_question(state, pending)
            level = min(pending.hints_given + 1, MAX_HINT_LEVEL)
            hint = graduated_hint(self.bank, question, level)
            closed = level >= MAX_HINT_LEVEL
            pending = pending.model_copy(update={"hints_given": level})
            self.store.save(state.model_copy(update={"pending": None if closed else pending}))
        return hint

    def explain_concept(self, args: ExplainInput) -> ConceptExplanation:
        """A concept's curriculum text and key points, cited."""
        ids = self.resolve([args.concept])
        if len(ids) > 1:
            titles = ", ".join(self.bank.concept(i).title for i in ids[:6])
            raise UnknownConcept(f"“{args.concept}” could mean several concepts: {titles}.")
        return explain(self.bank.concept(ids[0]))

    def progress_report(self, args: ProgressInput) -> ProgressReport:
        """The learner's table of concepts, totals, diagnostic status and mastery plot."""
        return progress_report(self.model, self.store, args, self.plot_dir)

    def refit(self) -> dict[str, StoredParams]:
        """Fit each concept's BKT parameters by EM from every learner's logged answers."""
        with self._lock:
            return refit_params(self.model, self.store)

    def erase_learner(self, user_id: str, tenant_id: str | None = None) -> ErasedCounts:
        """Delete everything stored about a learner; returns the counts, keeps no data."""
        with self._lock:
            return self.store.erase_learner(user_id, tenant_id)
