"""The learner store: state and events survive a restart; erase leaves nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from state.errors import ConfigError, StateUnavailable
from tools.tutor.bank import Bank
from tools.tutor.learner import LearnerModel, LearnerState, PendingQuestion
from tools.tutor.learner_store import StoredParams, open_learner_store


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.services)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "postgres":
        return request.getfixturevalue("pg_schema_url")
    return f"sqlite:///{tmp_path / 'tutor.sqlite'}"


def _answered(bank: Bank, user: str = "u1") -> tuple[LearnerState, list]:
    model = LearnerModel(bank)
    state = LearnerState(tenant_id="acme", user_id=user)
    events = []
    for qid, correct in (("projections_easy_mcq", True), ("ppv_easy_mcq", False)):
        state, event = model.record_answer(
            state,
            bank.question(qid),
            correct=correct,
            score=float(correct),
            method="mcq",
            counted=True,
            attempt=1,
            purpose="practice",
        )
        events.append((state, event))
    return state, events


def test_state_pending_question_and_events_survive_reopening(store_url: str, bank: Bank) -> None:
    state, answered = _answered(bank)
    state = state.model_copy(
        update={
            "pending": PendingQuestion(question_id="ppv_hard_mcq", purpose="practice", asked_step=2)
        }
    )
    with open_learner_store(store_url) as store:
        for step_state, event in answered:
            store.record(step_state, event)
        store.save(state)
    with open_learner_store(store_url) as store:
        loaded = store.load("acme", "u1")
        events = store.events("acme", "u1")
    assert loaded == state
    assert loaded is not None and loaded.pending is not None
    assert loaded.pending.question_id == "ppv_hard_mcq"
    assert [e.question_id for e in events] == ["projections_easy_mcq", "ppv_easy_mcq"]
    assert events[1].correct is False and events[1].mastery["ppv"] < 0.25


def test_unknown_learner_loads_as_none(store_url: str) -> None:
    with open_learner_store(store_url) as store:
        assert store.load("acme", "nobody") is None
        assert store.events("acme", "nobody") == []


def test_learners_are_separate_per_tenant(store_url: str, bank: Bank) -> None:
    _, answered = _answered(bank)
    with open_learner_store(store_url) as store:
        store.record(*answered[0])
        assert store.load("other", "u1") is None
        assert store.events("other", "u1") == []
        assert len(store.events()) == 1


def test_erase_learner_deletes_state_and_events_and_reports_counts(
    store_url: str, bank: Bank
) -> None:
    with open_learner_store(store_url) as store:
        for user in ("u1", "u2"):
            _, answered = _answered(bank, user)
            for step_state, event in answered:
                store.record(step_state, event)
        counts = store.erase_learner("u1")
        assert (counts.learners, counts.events) == (1, 2)
        assert store.load("acme", "u1") is None
        assert {e.user_id for e in store.events()} == {"u2"}
        again = store.erase_learner("u1")
        assert (again.learners, again.events) == (0, 0)


def test_fitted_params_round_trip(store_url: str) -> None:
    fitted = StoredParams(
        prior=0.3, learn=0.1, guess=0.2, slip=0.05, sequences=40, observations=400
    )
    with open_learner_store(store_url) as store:
        store.save_params({"ppv": fitted})
        store.save_params({"ppv": fitted.model_copy(update={"learn": 0.2})})
    with open_learner_store(store_url) as store:
        params = store.load_params()
    assert list(params) == ["ppv"] and params["ppv"].bkt().learn == 0.2


def test_unsupported_url_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="use postgresql:// or sqlite:///path"):
        open_learner_store("redis://localhost:6379/0")


def test_unwritable_sqlite_path_is_state_unavailable(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StateUnavailable, match="tutor learner store"):
        open_learner_store(f"sqlite:///{blocker / 'sub' / 'tutor.sqlite'}")


def test_bad_table_prefix_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="plain identifier"):
        open_learner_store(f"sqlite:///{tmp_path / 't.sqlite'}", prefix="x; DROP TABLE y")
