"""Selection rules on scripted learners: diagnostic, prerequisites, ZPD, difficulty, review."""

from __future__ import annotations

from collections.abc import Callable

from tools.tutor.bank import Bank, Question, load_bank
from tools.tutor.learner import ConceptState, LearnerModel, LearnerState
from tools.tutor.selection import (
    Selection,
    auto_difficulty,
    diagnostic_plan,
    mark_asked,
    select_next,
    start_diagnostic,
)


def run_learner(
    bank: Bank, answer: Callable[[Question], bool], steps: int, seed: int = 3
) -> tuple[LearnerModel, LearnerState, list[tuple[Selection, bool]]]:
    """Ask, answer, record `steps` times; log each pick and whether its concept was unlocked."""
    model = LearnerModel(bank)
    state = start_diagnostic(bank, LearnerState(user_id="scripted"), seed)
    log: list[tuple[Selection, bool]] = []
    for _ in range(steps):
        pick = select_next(model, state, seed=seed)
        log.append((pick, model.unlocked(state, pick.concept_id)))
        state = mark_asked(bank, state, pick)
        correct = answer(pick.question)
        state, _ = model.record_answer(
            state,
            pick.question,
            correct=correct,
            score=float(correct),
            method="mcq",
            counted=True,
            attempt=1,
            purpose=pick.purpose,
        )
        state = state.model_copy(update={"pending": None})
    return model, state, log


def _state(**masteries: float) -> LearnerState:
    return LearnerState(
        user_id="u", concepts={c: ConceptState(mastery=m) for c, m in masteries.items()}
    )


def test_diagnostic_has_ten_items_across_topics_foundations_first(bank: Bank) -> None:
    plan = diagnostic_plan(bank, seed=1)
    assert len(plan) == len(set(plan)) == 10
    concepts = [bank.question(q).concepts[0] for q in plan]
    assert {bank.concept(c).topic for c in concepts} == {"basics", "reading", "conditions", "ml"}
    assert concepts[:4] == ["projections", "sensitivity", "silhouette_sign", "pneumothorax"]
    assert plan == diagnostic_plan(bank, seed=1)


def test_new_learner_gets_the_diagnostic_before_practice(bank: Bank) -> None:
    _, state, log = run_learner(bank, lambda q: True, 11)
    purposes = [pick.purpose for pick, _ in log]
    assert purposes[:10] == ["diagnostic"] * 10 and purposes[10] != "diagnostic"
    assert log[0][0].reason == "diagnostic item 1 of 10"
    assert state.diagnostic is not None and state.diagnostic.finished


def test_always_correct_learner_masters_everything_and_advances_past_prerequisites(
    bank: Bank,
) -> None:
    model, state, log = run_learner(bank, lambda q: True, 60)
    assert all(m >= 0.95 for m in model.masteries(state).values())
    practice = [(pick, unlocked) for pick, unlocked in log if pick.purpose == "practice"]
    assert all(unlocked for _, unlocked in practice)
    practised = [pick.concept_id for pick, _ in practice]
    assert "pneumothorax" in practised and "ppv" in practised
    assert "hard" in {pick.difficulty for pick, _ in practice}
    assert "review" in {pick.purpose for pick, _ in log}


def test_always_wrong_learner_gets_easy_items_on_foundations_only(bank: Bank) -> None:
    model, state, log = run_learner(bank, lambda q: False, 30)
    practice = [pick for pick, _ in log if pick.purpose == "practice"]
    assert practice and {pick.difficulty for pick in practice} == {"easy"}
    assert {pick.concept_id for pick in practice} <= {"projections", "sensitivity"}
    assert all(m < 0.3 for m in model.masteries(state).values())


def test_zone_of_proximal_development_comes_before_weak_and_strong(bank: Bank) -> None:
    model = LearnerModel(bank)
    state = _state(projections=0.9, sensitivity=0.1, image_quality=0.2, silhouette_sign=0.45)
    pick = select_next(model, state)
    assert pick.concept_id == "silhouette_sign"
    assert "zone of proximal development (mastery 0.45)" in pick.reason


def test_dependants_stay_locked_until_prerequisites_reach_point_seven(bank: Bank) -> None:
    model = LearnerModel(bank)
    locked = _state(projections=0.69, image_quality=0.9, sensitivity=0.96)
    offered = {select_next(model, locked, seed=s).concept_id for s in range(20)}
    assert "pneumothorax" not in offered and "silhouette_sign" not in offered
    assert model.unlocked(_state(projections=0.7), "silhouette_sign")


def test_focus_on_a_locked_concept_starts_with_its_unmet_prerequisite(bank: Bank) -> None:
    model = LearnerModel(bank)
    pick = select_next(model, _state(projections=0.5), focus=("pneumothorax",))
    assert pick.concept_id == "projections"
    assert "Pneumothorax builds on Projections (your mastery 0.50, needs 0.70)" in pick.reason
    unlocked = _state(projections=0.8, image_quality=0.75, pneumothorax=0.5)
    assert select_next(model, unlocked, focus=("pneumothorax",)).concept_id == "pneumothorax"


def test_auto_difficulty_follows_mean_mastery_of_weak_concepts() -> None:
    assert auto_difficulty([0.1, 0.2, 0.9]) == "easy"
    assert auto_difficulty([0.4, 0.5, 0.99]) == "medium"
    assert auto_difficulty([0.75, 0.8]) == "hard"
    assert auto_difficulty([0.62, 0.65]) == "medium"


def test_interleaving_prefers_another_topic_than_the_last(bank: Bank) -> None:
    model = LearnerModel(bank)
    state = _state(projections=0.5, sensitivity=0.5).model_copy(
        update={"last_topic": "basics", "last_concept": "projections"}
    )
    assert select_next(model, state).concept_id == "sensitivity"
    state = state.model_copy(update={"last_topic": "ml", "last_concept": "sensitivity"})
    assert select_next(model, state).concept_id == "projections"


def test_due_review_is_offered_but_never_twice_in_a_row(bank: Bank) -> None:
    model = LearnerModel(bank)
    state = _state(projections=0.97, sensitivity=0.4).model_copy(update={"step": 9})
    state.concepts["projections"].review_interval = 4
    state.concepts["projections"].review_due_step = 8
    pick = select_next(model, state)
    assert pick.purpose == "review" and pick.concept_id == "projections"
    assert "interval 4 answers" in pick.reason
    after = state.model_copy(update={"last_purpose": "review"})
    assert select_next(model, after).purpose == "practice"


def test_review_interval_doubles_after_a_successful_review(bank: Bank) -> None:
    model = LearnerModel(bank)
    state = _state(projections=0.97)
    state.concepts["projections"].review_interval = 4
    question = bank.question("projections_medium_mcq")
    after, _ = model.record_answer(
        state,
        question,
        correct=True,
        score=1,
        method="mcq",
        counted=True,
        attempt=1,
        purpose="review",
    )
    assert after.concepts["projections"].review_interval == 8
    assert after.concepts["projections"].review_due_step == after.step + 8


def test_selection_is_deterministic_for_a_seed(bank: Bank) -> None:
    first = [p.question.id for p, _ in run_learner(bank, lambda q: "easy" in q.id, 25, seed=5)[2]]
    again = [p.question.id for p, _ in run_learner(bank, lambda q: "easy" in q.id, 25, seed=5)[2]]
    assert first == again


def test_real_bank_diagnostic_spans_every_topic() -> None:
    real = load_bank()
    plan = diagnostic_plan(real, seed=0)
    topics = {real.concept(real.question(q).concepts[0]).topic for q in plan}
    assert len(plan) == 10 and topics == {"basics", "reading", "conditions", "devices", "ml"}
    assert all(real.question(q).kind == "mcq" for q in plan)
