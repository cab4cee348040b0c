"""Statistics of eval metrics: bootstrap 95% intervals, paired run comparisons, rank correlation.

Every metric is a statistic of per-item rows, so one resampling scheme serves all of them:

- `ratio`: rows (numerator, denominator); the value is Σnum / Σden. A mean is a ratio whose
  denominators are 1; a rate over a subset (e.g. recall over answerable questions only) gives
  the other items a denominator of 0, so every metric of a dataset resamples the same items.
- `macro_f1`: rows (tp_1..tp_C, fp_1..fp_C, fn_1..fn_C); the unweighted mean of per-class F1.
- `ece`: rows (d_1..d_B, 1) with d_b = (p - y) when the item's confidence falls in bin b; the
  expected calibration error Σ_b |Σ d_b| / n.
- `spearman`: rows (x, y); Spearman's ρ of the pairs.

Intervals are percentile bootstrap intervals (items resampled with replacement, seeded). A
paired comparison resamples the same items in both runs; its p-value is the two-sided
bootstrap test of a zero difference (the bootstrap distribution shifted to the null).

Usage:
    rows = mean_rows([0.0, 1.0, 1.0, 1.0])
    ci = bootstrap_ci("ratio", rows, n_boot=2000, seed=0)   # ci.value 0.75, ci.low, ci.high
    cmp = paired_compare("ratio", rows_run_a, rows_run_b, n_boot=2000, seed=0)
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy import stats as scipy_stats

from state.errors import InputError

StatisticKind = Literal["ratio", "macro_f1", "ece", "spearman"]
STATISTICS: tuple[StatisticKind, ...] = ("ratio", "macro_f1", "ece", "spearman")
LEVEL = 0.95


@dataclass(frozen=True)
class Interval:
    """A point estimate and its bootstrap interval (NaN when the data cannot define them)."""

    value: float
    low: float
    high: float


@dataclass(frozen=True)
class PairedComparison:
    """Run A minus run B on the same items: the difference, its interval and a p-value."""

    value_a: float
    value_b: float
    diff: float
    low: float
    high: float
    p_value: float
    n: int


def _checked(kind: str, rows: np.ndarray) -> np.ndarray:
    if kind not in STATISTICS:
        raise InputError(f"unknown statistic {kind!r}; known: {', '.join(STATISTICS)}")
    rows = np.asarray(rows, dtype=np.float64)
    if rows.ndim != 2:
        raise InputError(f"{kind} rows must be a 2-d array, got shape {rows.shape}")
    width = rows.shape[1]
    if kind in ("ratio", "spearman") and width != 2:
        raise InputError(f"{kind} rows have 2 columns, got {width}")
    if kind == "macro_f1" and (width == 0 or width % 3):
        raise InputError(f"macro_f1 rows have 3 columns per class, got {width}")
    if kind == "ece" and width < 2:
        raise InputError("ece rows have one column per bin and a count column")
    return rows


def _from_sums(kind: StatisticKind, sums: np.ndarray) -> np.ndarray:
    """Statistic values from column sums [B, d] (ratio, macro_f1, ece)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        if kind == "ratio":
            return np.where(sums[:, 1] > 0, sums[:, 0] / sums[:, 1], np.nan)
        if kind == "macro_f1":
            c = sums.shape[1] // 3
            tp, fp, fn = sums[:, :c], sums[:, c : 2 * c], sums[:, 2 * c :]
            denominator = 2 * tp + fp + fn
            f1 = np.where(denominator > 0, 2 * tp / np.where(denominator > 0, denominator, 1), 0.0)
            return f1.mean(axis=1)
        count = sums[:, -1]
        return np.where(count > 0, np.abs(sums[:, :-1]).sum(axis=1) / count, np.nan)


def _spearman_batch(samples: np.ndarray) -> np.ndarray:
    """ρ per resample of pairs [B, n, 2] (average ranks for ties; NaN for a constant column)."""
    ranks = scipy_stats.rankdata(samples, axis=1)
    centred = ranks - ranks.mean(axis=1, keepdims=True)
    x, y = centred[..., 0], centred[..., 1]
    with np.errstate(divide="ignore", invalid="ignore"):
        rho = (x * y).sum(axis=1) / np.sqrt((x * x).sum(axis=1) * (y * y).sum(axis=1))
    return np.where(np.isfinite(rho), rho, np.nan)


def statistic(kind: StatisticKind, rows: np.ndarray) -> float:
    """The metric's value on all rows."""
    rows = _checked(kind, rows)
    if len(rows) == 0:
        return float("nan")
    if kind == "spearman":
        return float(_spearman_batch(rows[None, :, :])[0])
    return float(_from_sums(kind, rows.sum(axis=0, keepdims=True))[0])


def _resampled(kind: StatisticKind, rows: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """The statistic on each resample; `idx` [B, n] holds the drawn row numbers."""
    if kind == "spearman":
        return _spearman_batch(rows[idx])
    b, n = idx.shape
    counts = np.bincount((np.arange(b)[:, None] * n + idx).ravel(), minlength=b * n)
    return _from_sums(kind, counts.reshape(b, n).astype(np.float64) @ rows)


def _draws(n: int, n_boot: int, seed: int) -> np.ndarray:
    if n_boot < 100:
        raise InputError(f"use at least 100 bootstrap resamples, not {n_boot}")
    return np.random.default_rng(seed).integers(0, n, size=(n_boot, n))


def _percentiles(values: np.ndarray, level: float) -> tuple[float, float]:
    finite = values[np.isfinite(values)]
    if len(finite) == 0:
        return float("nan"), float("nan")
    tail = (1.0 - level) / 2 * 100
    low, high = np.percentile(finite, [tail, 100 - tail])
    return float(low), float(high)


def bootstrap_ci(
    kind: StatisticKind,
    rows: np.ndarray,
    *,
    n_boot: int = 2000,
    seed: int = 0,
    level: float = LEVEL,
) -> Interval:
    """The statistic and its percentile bootstrap interval over resampled items."""
    rows = _checked(kind, rows)
    value = statistic(kind, rows)
    if len(rows) == 0:
        return Interval(value, float("nan"), float("nan"))
    low, high = _percentiles(_resampled(kind, rows, _draws(len(rows), n_boot, seed)), level)
    return Interval(value, low, high)


def paired_compare(
    kind: StatisticKind,
    rows_a: np.ndarray,
    rows_b: np.ndarray,
    *,
    n_boot: int = 2000,
    seed: int = 0,
    level: float = LEVEL,
) -> PairedComparison:
    """A − B on the same items in the same order: paired bootstrap interval and p-value.

    The p-value is the share of resampled differences at least as far from the observed one
    as the observed one is from zero (the bootstrap distribution shifted to the null), with
    the usual +1 so it is never exactly 0.
    """
    rows_a, rows_b = _checked(kind, rows_a), _checked(kind, rows_b)
    if rows_a.shape != rows_b.shape:
        raise InputError(f"paired rows differ in shape: {rows_a.shape} vs {rows_b.shape}")
    value_a, value_b = statistic(kind, rows_a), statistic(kind, rows_b)
    diff = value_a - value_b
    n = len(rows_a)
    if n == 0 or not np.isfinite(diff):
        nan = float("nan")
        return PairedComparison(value_a, value_b, diff, nan, nan, nan, n)
    idx = _draws(n, n_boot, seed)
    diffs = _resampled(kind, rows_a, idx) - _resampled(kind, rows_b, idx)
    diffs = diffs[np.isfinite(diffs)]
    low, high = _percentiles(diffs, level)
    extreme = int(np.sum(np.abs(diffs - diff) >= abs(diff) - 1e-12))
    p_value = min(1.0, (extreme + 1) / (len(diffs) + 1))
    return PairedComparison(value_a, value_b, diff, low, high, p_value, n)


def spearman(x: Sequence[float], y: Sequence[float]) -> float:
    """Spearman's ρ (scipy; NaN when either side is constant)."""
    if len(x) != len(y):
        raise InputError(f"spearman needs pairs, got {len(x)} and {len(y)} values")
    if len(x) < 2 or len(set(x)) < 2 or len(set(y)) < 2:
        return float("nan")
    return float(scipy_stats.spearmanr(x, y).statistic)


def mean_rows(values: Iterable[float]) -> np.ndarray:
    """Rows for a mean: (value, 1) per item."""
    v = np.asarray(list(values), dtype=np.float64)
    return np.column_stack([v, np.ones_like(v)])


def ratio_rows(numerators: Iterable[float], denominators: Iterable[float]) -> np.ndarray:
    """Rows for Σnum / Σden (items outside the metric's subset have a denominator of 0)."""
    num = np.asarray(list(numerators), dtype=np.float64)
    den = np.asarray(list(denominators), dtype=np.float64)
    if num.shape != den.shape:
        raise InputError("ratio rows need one numerator per denominator")
    if np.any((den == 0) & (num != 0)):
        raise InputError("an item outside a ratio's subset (denominator 0) needs numerator 0")
    return np.column_stack([num, den])


def macro_f1_rows(
    gold: Sequence[set[str]], predicted: Sequence[set[str]], classes: Sequence[str]
) -> np.ndarray:
    """Rows of per-class true positives, false positives and false negatives, one per item.

    Labels outside `classes` (e.g. a clarifying question) count only as the misses they cause.
    """
    if len(gold) != len(predicted):
        raise InputError("macro-F1 needs one predicted set per gold set")
    c = len(classes)
    rows = np.zeros((len(gold), 3 * c))
    for i, (g, p) in enumerate(zip(gold, predicted, strict=True)):
        for j, label in enumerate(classes):
            rows[i, j] = label in g and label in p
            rows[i, c + j] = label in p and label not in g
            rows[i, 2 * c + j] = label in g and label not in p
    return rows


def ece_rows(confidences: Iterable[float], correct: Iterable[bool], bins: int = 10) -> np.ndarray:
    """Rows for the expected calibration error over `bins` equal-width confidence bins."""
    p = np.clip(np.asarray(list(confidences), dtype=np.float64), 0.0, 1.0)
    y = np.asarray(list(correct), dtype=np.float64)
    if p.shape != y.shape:
        raise InputError("ECE needs one outcome per confidence")
    which = np.minimum((p * bins).astype(int), bins - 1)
    rows = np.zeros((len(p), bins + 1))
    rows[np.arange(len(p)), which] = p - y
    rows[:, -1] = 1.0
    return rows


def reliability_bins(
    confidences: Sequence[float], outcomes: Sequence[bool], bins: int = 10
) -> list[tuple[float, float, int]]:
    """(mean confidence, observed frequency, count) of each non-empty equal-width bin."""
    p = np.clip(np.asarray(confidences, dtype=np.float64), 0.0, 1.0)
    y = np.asarray(outcomes, dtype=np.float64)
    which = np.minimum((p * bins).astype(int), bins - 1)
    out = []
    for b in range(bins):
        inside = which == b
        if inside.any():
            out.append((float(p[inside].mean()), float(y[inside].mean()), int(inside.sum())))
    return out
