"""Bootstrap intervals, paired comparisons and the per-item metric rows, on synthetic data."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as scipy_stats

from evals.routing import ItemResult, RoutingItem, score
from evals.stats import (
    bootstrap_ci,
    ece_rows,
    macro_f1_rows,
    mean_rows,
    paired_compare,
    ratio_rows,
    reliability_bins,
    spearman,
    statistic,
)
from state.errors import InputError
from state.schema import INTENTS
from tests.scripted import ScriptedPrediction, ScriptedSegment


def test_interval_width_matches_the_known_standard_error_of_a_mean() -> None:
    sigma, n = 2.0, 400
    values = np.random.default_rng(1).normal(10.0, sigma, n)
    ci = bootstrap_ci("ratio", mean_rows(values), n_boot=4000, seed=0)
    expected_half_width = 1.96 * values.std(ddof=1) / np.sqrt(n)
    assert ci.value == pytest.approx(values.mean())
    assert (ci.high - ci.low) / 2 == pytest.approx(expected_half_width, rel=0.1)
    assert ci.low < values.mean() < ci.high


def test_intervals_cover_the_true_mean_about_95_percent_of_the_time() -> None:
    rng = np.random.default_rng(7)
    covered = 0
    trials = 200
    for trial in range(trials):
        values = rng.normal(0.0, 1.0, 60)
        ci = bootstrap_ci("ratio", mean_rows(values), n_boot=400, seed=trial)
        covered += ci.low <= 0.0 <= ci.high
    assert 0.88 <= covered / trials <= 0.99


def test_same_seed_same_interval_and_too_few_resamples_are_refused() -> None:
    rows = mean_rows([0, 1, 1, 0, 1])
    assert bootstrap_ci("ratio", rows, seed=3) == bootstrap_ci("ratio", rows, seed=3)
    with pytest.raises(InputError):
        bootstrap_ci("ratio", rows, n_boot=10)


def test_a_rate_over_a_subset_ignores_items_outside_it() -> None:
    rows = ratio_rows([1, 0, 0, 0], [1, 1, 0, 0])
    assert statistic("ratio", rows) == 0.5
    with pytest.raises(InputError):
        ratio_rows([1, 0, 0, 1], [1, 1, 0, 0])


def test_macro_f1_rows_reproduce_the_routing_evals_macro_f1() -> None:
    cases = [
        ("a", ["radiology"], "radiology", ()),
        ("b", ["radiology"], "tutor", ()),
        ("c", ["tutor"], "tutor", ()),
        ("d", ["policy"], "general", ()),
        ("e", ["documents", "tutor"], "documents", ("documents", "policy")),
        ("f", ["escalate"], "escalate", ()),
    ]
    results = []
    for item_id, gold, top, segments in cases:
        prediction = ScriptedPrediction(
            top,
            0.9,
            tuple(ScriptedSegment(s, s, 0.9) for s in segments)
            or (ScriptedSegment("x", top, 0.9),),
        )
        results.append(ItemResult(RoutingItem(id=item_id, text=item_id, intents=gold), prediction))
    rows = macro_f1_rows(
        [set(r.item.intents) for r in results], [r.predicted_set for r in results], INTENTS
    )
    assert statistic("macro_f1", rows) == pytest.approx(score(results).macro_f1)


def test_ece_is_zero_when_calibrated_and_large_when_overconfident() -> None:
    calibrated = ece_rows([0.25] * 4 + [0.75] * 4, [1, 0, 0, 0, 1, 1, 1, 0])
    assert statistic("ece", calibrated) == pytest.approx(0.0)
    overconfident = ece_rows([0.95] * 10, [1] * 5 + [0] * 5)
    assert statistic("ece", overconfident) == pytest.approx(0.45)
    [(confidence, observed, count)] = reliability_bins([0.95] * 10, [True] * 5 + [False] * 5)
    assert (confidence, observed, count) == (pytest.approx(0.95), 0.5, 10)


def test_spearman_matches_scipy_and_gets_an_interval() -> None:
    rng = np.random.default_rng(2)
    x = rng.normal(size=50)
    y = x + rng.normal(scale=0.8, size=50)
    assert spearman(list(x), list(y)) == pytest.approx(scipy_stats.spearmanr(x, y).statistic)
    ci = bootstrap_ci("spearman", np.column_stack([x, y]), n_boot=500)
    assert ci.value == pytest.approx(scipy_stats.spearmanr(x, y).statistic)
    assert ci.low < ci.value < ci.high
    assert np.isnan(spearman([1, 1, 1], [1, 2, 3]))


def test_identical_runs_differ_by_zero_with_p_value_one() -> None:
    rows = mean_rows(np.random.default_rng(3).random(80))
    result = paired_compare("ratio", rows, rows, n_boot=500)
    assert result.diff == 0.0 and result.low == 0.0 and result.high == 0.0
    assert result.p_value == 1.0


def test_a_real_improvement_is_significant_and_noise_is_not() -> None:
    rng = np.random.default_rng(4)
    base = rng.random(200) < 0.6
    better = base | (rng.random(200) < 0.5)
    improved = paired_compare("ratio", mean_rows(better), mean_rows(base), n_boot=2000)
    assert improved.diff > 0 and improved.low > 0 and improved.p_value < 0.01
    truth = rng.random(200) < 0.6
    run_a = truth ^ (rng.random(200) < 0.1)
    run_b = truth ^ (rng.random(200) < 0.1)
    noise = paired_compare("ratio", mean_rows(run_a), mean_rows(run_b), n_boot=2000)
    assert noise.low <= 0 <= noise.high and noise.p_value > 0.05


def test_malformed_rows_are_refused_with_a_typed_error() -> None:
    with pytest.raises(InputError):
        statistic("ratio", np.ones((3, 3)))
    with pytest.raises(InputError):
        statistic("median", np.ones((3, 2)))  # type: ignore[arg-type]
    with pytest.raises(InputError):
        paired_compare("ratio", np.ones((3, 2)), np.ones((4, 2)))
