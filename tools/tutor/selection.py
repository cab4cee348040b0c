"""Which question comes next: diagnostic, spaced review, prerequisites, the ZPD, auto difficulty.

Rules, in order:
1. A new learner (no focus asked for) takes a 10-item diagnostic spread across topics,
   foundations first.
2. A mastered concept whose spaced review is due is reviewed (never two reviews in a row).
3. Practice draws from concepts whose prerequisites have all reached 0.7 and which are not
   mastered; a focus ("quiz me on pneumothorax") narrows them, and a locked focus leads to its
   weakest unmet prerequisite first.
4. Among those, the zone of proximal development (mastery 0.3–0.7) comes first, then weak
   concepts (< 0.6) nearest to it, then the rest; within a tier, a topic other than the last
   one is preferred (interleaving), then mastery nearest 0.5, then a seeded tie-break.
5. Difficulty: mean mastery of the weak concepts in play (all of them when none is weak)
   below 0.3 → easy, above 0.7 → hard, else medium. In play are the chosen concept and the
   open concepts the learner has answered on (untouched ones carry only their prior).

Usage:
    pick = select_next(model, state, focus=("pneumothorax",), seed=7)
    pick.question.stem, pick.reason
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

from tools.tutor.bank import DIFFICULTIES, Bank, Difficulty, Question
from tools.tutor.learner import (
    DIAGNOSTIC_ITEMS,
    MASTERED,
    PREREQUISITE_PASS,
    RECENT_QUESTIONS,
    Diagnostic,
    LearnerModel,
    LearnerState,
    PendingQuestion,
    Purpose,
)

ZPD_LOW = 0.3
ZPD_HIGH = 0.7
WEAK = 0.6
EASY_BELOW = 0.3
HARD_ABOVE = 0.7


@dataclass(frozen=True)
class Selection:
    """The chosen question, why it was chosen, and at what difficulty."""

    question: Question
    concept_id: str
    purpose: Purpose
    difficulty: Difficulty
    reason: str


def auto_difficulty(masteries: Sequence[float]) -> Difficulty:
    """Easy/medium/hard from the mean mastery of the weak concepts (all when none is weak)."""
    if not masteries:
        return "medium"
    weak = [m for m in masteries if m < WEAK] or list(masteries)
    mean = sum(weak) / len(weak)
    if mean < EASY_BELOW:
        return "easy"
    if mean > HARD_ABOVE:
        return "hard"
    return "medium"


def _depths(bank: Bank) -> dict[str, int]:
    """Length of the longest prerequisite chain under each concept (roots are 0)."""

    @cache
    def depth(cid: str) -> int:
        pres = bank.concept(cid).prerequisites
        return 1 + max(depth(p) for p in pres) if pres else 0

    return {c.id: depth(c.id) for c in bank.concepts}


def diagnostic_plan(bank: Bank, seed: int, items: int = DIAGNOSTIC_ITEMS) -> list[str]:
    """Question ids for the placement diagnostic: topics in turn, shallowest concepts first."""
    depths = _depths(bank)
    order = {cid: n for n, cid in enumerate(bank.topological_order())}
    by_topic: dict[str, list[str]] = {}
    for concept in sorted(bank.concepts, key=lambda c: (depths[c.id], order[c.id])):
        by_topic.setdefault(concept.topic, []).append(concept.id)
    columns = list(by_topic.values())
    longest = max(len(c) for c in columns)
    order = [concepts[r] for r in range(longest) for concepts in columns if r < len(concepts)]
    rng = random.Random(seed)
    plan: list[str] = []
    for cid in order * len(DIFFICULTIES):  # a bank with few concepts asks some twice
        question = _pick_question(bank, cid, "medium", set(plan), {}, rng, prefer_mcq=True)
        if question is not None and question.id not in plan:
            plan.append(question.id)
        if len(plan) == items:
            break
    return plan


def _pick_question(
    bank: Bank,
    concept_id: str,
    difficulty: Difficulty,
    avoid: set[str],
    seen: dict[str, int],
    rng: random.Random,
    *,
    prefer_mcq: bool = False,
) -> Question | None:
    """The concept's question nearest the difficulty, least seen, not recently asked.

    `prefer_mcq` puts multiple choice first (the diagnostic: quick, and graded exactly).
    """
    target = DIFFICULTIES.index(difficulty)
    candidates = [q for q in bank.questions_for(concept_id) if q.id not in avoid]
    if not candidates:
        candidates = bank.questions_for(concept_id)
    if not candidates:
        return None
    keyed = [
        (
            prefer_mcq and q.kind != "mcq",
            abs(DIFFICULTIES.index(q.difficulty) - target),
            seen.get(q.id, 0),
            rng.random(),
            q.id,
        )
        for q in candidates
    ]
    return bank.question(min(keyed)[-1])


def _blocking_prerequisite(model: LearnerModel, state: LearnerState, concept_id: str) -> str:
    """The unmet prerequisite to learn first: recurse until one whose own are all met."""
    bank = model.bank
    unmet = [
        p
        for p in bank.concept(concept_id).prerequisites
        if model.mastery(state, p) < PREREQUISITE_PASS
    ]
    weakest = min(unmet, key=lambda p: model.mastery(state, p))
    if model.unlocked(state, weakest):
        return weakest
    return _blocking_prerequisite(model, state, weakest)


def _due_review(model: LearnerModel, state: LearnerState, focus: Sequence[str]) -> str | None:
    """The mastered concept whose review is most overdue, if any is due."""
    due = [
        (c.review_due_step, cid)
        for cid, c in state.concepts.items()
        if c.review_due_step is not None
        and c.review_due_step <= state.step
        and c.mastery >= MASTERED
        and (not focus or cid in focus)
    ]
    return min(due)[1] if due else None


def select_next(
    model: LearnerModel,
    state: LearnerState,
    *,
    focus: Sequence[str] = (),
    seed: int = 0,
) -> Selection:
    """Choose the learner's next question; deterministic for the same state and seed.

    `state.diagnostic` must already be set for a learner who should take the diagnostic
    (`start_diagnostic`); without a focus, an unfinished diagnostic continues first.
    """
    bank = model.bank
    rng = random.Random(f"{seed}:{state.user_id}:{state.step}:{len(state.recent)}")
    diagnostic = state.diagnostic
    if not focus and diagnostic is not None and not diagnostic.finished:
        question = bank.question(diagnostic.plan[diagnostic.done])
        return Selection(
            question,
            question.concepts[0],
            "diagnostic",
            question.difficulty,
            f"diagnostic item {diagnostic.done + 1} of {len(diagnostic.plan)}",
        )
    avoid = set(state.recent)
    review = None if state.last_purpose == "review" else _due_review(model, state, focus)
    if review is not None:
        question = _pick_question(bank, review, "medium", avoid, state.seen, rng)
        if question is not None:
            interval = state.concepts[review].review_interval
            return Selection(
                question,
                review,
                "review",
                question.difficulty,
                f"spaced review of {bank.concept(review).title} (interval {interval} answers)",
            )

    scope = list(focus) or [c.id for c in bank.concepts]
    locked_focus = [cid for cid in scope if not model.unlocked(state, cid)]
    notes: list[str] = []
    if focus and len(locked_focus) == len(scope):
        target = locked_focus[0]
        first = _blocking_prerequisite(model, state, target)
        notes.append(
            f"{bank.concept(target).title} builds on {bank.concept(first).title} "
            f"(your mastery {model.mastery(state, first):.2f}, needs {PREREQUISITE_PASS:.2f})"
        )
        scope = [first]
    open_concepts = [
        cid for cid in scope if model.unlocked(state, cid) and model.mastery(state, cid) < MASTERED
    ]
    if not open_concepts:
        open_concepts = [cid for cid in scope if model.unlocked(state, cid)] or scope
        notes.append("everything here is mastered, so this is extra practice")
    masteries = {cid: model.mastery(state, cid) for cid in open_concepts}
    concept_id = _rank(bank, state, masteries, rng)[0]
    in_play = [m for cid, m in masteries.items() if cid == concept_id or cid in state.concepts]
    difficulty = auto_difficulty(in_play)
    question = _pick_question(bank, concept_id, difficulty, avoid, state.seen, rng)
    if question is None:
        raise LookupError(f"no question tests concept {concept_id}")
    mastery = masteries[concept_id]
    band = (
        "in your zone of proximal development"
        if ZPD_LOW <= mastery <= ZPD_HIGH
        else "a weak spot"
        if mastery < WEAK
        else "to consolidate"
    )
    reason = f"{bank.concept(concept_id).title} is {band} (mastery {mastery:.2f})"
    return Selection(question, concept_id, "practice", difficulty, "; ".join([*notes, reason]))


def _rank(
    bank: Bank, state: LearnerState, masteries: dict[str, float], rng: random.Random
) -> list[str]:
    """Concepts best first: ZPD, then weak ones nearest the ZPD, then the rest; interleaved."""

    def tier(m: float) -> int:
        if ZPD_LOW <= m <= ZPD_HIGH:
            return 0
        return 1 if m < WEAK else 2

    keyed = [
        (
            tier(m),
            bank.concept(cid).topic == state.last_topic,
            cid == state.last_concept,
            abs(m - 0.5),
            rng.random(),
            cid,
        )
        for cid, m in masteries.items()
    ]
    return [k[-1] for k in sorted(keyed)]


def start_diagnostic(bank: Bank, state: LearnerState, seed: int) -> LearnerState:
    """The state with a fresh diagnostic plan (the input state is not modified)."""
    return state.model_copy(update={"diagnostic": Diagnostic(plan=diagnostic_plan(bank, seed))})


def mark_asked(
    bank: Bank, state: LearnerState, pick: Selection, focus: Sequence[str] = ()
) -> LearnerState:
    """The state once `pick` is put to the learner: pending, recent, seen and last topic."""
    question = pick.question
    return state.model_copy(
        update={
            "pending": PendingQuestion(
                question_id=question.id,
                purpose=pick.purpose,
                asked_step=state.step,
                focus=tuple(focus),
            ),
            "recent": [*state.recent, question.id][-RECENT_QUESTIONS:],
            "seen": {**state.seen, question.id: state.seen.get(question.id, 0) + 1},
            "last_topic": bank.concept(pick.concept_id).topic,
            "last_concept": pick.concept_id,
            "last_purpose": pick.purpose,
        }
    )
