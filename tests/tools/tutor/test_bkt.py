"""BKT math against hand-computed cases, and EM recovering known parameters."""

from __future__ import annotations

import random

import pytest

from tools.tutor.bkt import (
    BKTParams,
    fit_em,
    fit_or_default,
    log_likelihood,
    posterior,
    predict_correct,
    predict_sequence,
    sample_sequences,
    update,
)

PARAMS = BKTParams(prior=0.25, learn=0.15, guess=0.25, slip=0.1)


def test_posterior_after_correct_answer_matches_hand_computation() -> None:
    # 0.25*0.9 / (0.25*0.9 + 0.75*0.25) = 0.225 / 0.4125
    assert posterior(0.25, True, PARAMS) == pytest.approx(0.545454545, abs=1e-9)


def test_posterior_after_wrong_answer_matches_hand_computation() -> None:
    # 0.25*0.1 / (0.25*0.1 + 0.75*0.75) = 0.025 / 0.5875
    assert posterior(0.25, False, PARAMS) == pytest.approx(0.042553191, abs=1e-9)


def test_update_applies_learning_after_the_posterior() -> None:
    # 0.545454 + (1 - 0.545454) * 0.15 and 0.042553 + (1 - 0.042553) * 0.15
    assert update(0.25, True, PARAMS) == pytest.approx(0.613636364, abs=1e-9)
    assert update(0.25, False, PARAMS) == pytest.approx(0.186170213, abs=1e-9)


def test_predicted_correctness_mixes_slip_and_guess() -> None:
    assert predict_correct(0.25, PARAMS) == pytest.approx(0.25 * 0.9 + 0.75 * 0.25)
    first, second = predict_sequence([True, True], PARAMS)
    assert first == pytest.approx(0.4125)
    assert second == pytest.approx(0.613636364 * 0.9 + 0.386363636 * 0.25)


def test_mastery_rises_with_right_answers_and_falls_with_wrong_ones() -> None:
    p = PARAMS.prior
    for _ in range(4):
        p = update(p, True, PARAMS)
    assert p > 0.95
    assert update(p, False, PARAMS) < p


def test_parameters_outside_zero_one_are_rejected() -> None:
    with pytest.raises(ValueError, match="slip must be a probability"):
        BKTParams(prior=0.2, learn=0.1, guess=0.2, slip=1.5)


def test_em_recovers_known_parameters_from_simulated_learners() -> None:
    truth = BKTParams(prior=0.3, learn=0.12, guess=0.2, slip=0.08)
    sequences = sample_sequences(truth, learners=500, steps=15, rng=random.Random(7))
    fit = fit_em(sequences, seed=1)
    assert fit.params.prior == pytest.approx(truth.prior, abs=0.05)
    assert fit.params.learn == pytest.approx(truth.learn, abs=0.03)
    assert fit.params.guess == pytest.approx(truth.guess, abs=0.04)
    assert fit.params.slip == pytest.approx(truth.slip, abs=0.03)
    assert fit.log_likelihood >= log_likelihood(sequences, truth)
    assert (fit.sequences, fit.observations) == (500, 7500)


def test_em_handles_sequences_of_different_lengths() -> None:
    truth = BKTParams(prior=0.4, learn=0.2, guess=0.15, slip=0.1)
    rng = random.Random(3)
    sequences = [s[: rng.randint(1, 12)] for s in sample_sequences(truth, 400, 12, rng)]
    fit = fit_em(sequences, seed=2)
    assert fit.params.learn == pytest.approx(truth.learn, abs=0.06)
    assert fit.observations == sum(len(s) for s in sequences)


def test_em_with_one_start_never_lowers_the_likelihood() -> None:
    truth = BKTParams(prior=0.3, learn=0.12, guess=0.2, slip=0.08)
    sequences = sample_sequences(truth, 100, 10, random.Random(5))
    start = BKTParams(prior=0.5, learn=0.3, guess=0.3, slip=0.2)
    short = fit_em(sequences, restarts=1, max_iter=2, start=start)
    longer = fit_em(sequences, restarts=1, max_iter=20, start=start)
    assert log_likelihood(sequences, start) <= short.log_likelihood <= longer.log_likelihood


def test_defaults_are_kept_until_there_is_enough_data() -> None:
    truth = BKTParams(prior=0.3, learn=0.12, guess=0.2, slip=0.08)
    few = sample_sequences(truth, 10, 5, random.Random(1))
    params, fit = fit_or_default(few, PARAMS)
    assert params == PARAMS and fit is None
    many = sample_sequences(truth, 60, 10, random.Random(1))
    params, fit = fit_or_default(many, PARAMS)
    assert fit is not None and params == fit.params != PARAMS


def test_em_rejects_empty_logs() -> None:
    with pytest.raises(ValueError, match="at least one non-empty"):
        fit_em([[], []])
