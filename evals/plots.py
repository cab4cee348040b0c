"""PNG plots of an eval run (matplotlib, Agg canvas): confusion, reliability, scores with CIs.

Figures are built with the object-oriented API (`matplotlib.figure.Figure`), so no global
pyplot state or display backend is involved.

Usage:
    confusion_png(suite.confusion[0], out / "confusion_router.png")
    reliability_png(suite.reliability[0], out / "reliability_router.png")
    scores_png(run.suites, out / "scores.png", judge_label=run.judge.label)
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from evals.results import ConfusionData, MetricResult, ReliabilityData, SuiteResult
from evals.stats import ece_rows, reliability_bins, statistic


def confusion_png(data: ConfusionData, path: Path) -> Path:
    """Counts per (gold, predicted), coloured by the share of the gold row."""
    matrix = np.asarray(data.matrix, dtype=float)
    shares = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    fig = Figure(figsize=(1.1 * len(data.predicted_labels) + 2, 0.8 * len(data.labels) + 1.8))
    ax = fig.add_subplot()
    ax.imshow(shares, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(data.predicted_labels)), data.predicted_labels, rotation=35, ha="right")
    ax.set_yticks(range(len(data.labels)), data.labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("gold")
    for (row, col), count in np.ndenumerate(matrix):
        if count:
            colour = "white" if shares[row, col] > 0.6 else "black"
            ax.text(col, row, str(int(count)), ha="center", va="center", color=colour)
    ax.set_title(f"Confusion: {data.name}")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return path


def reliability_png(data: ReliabilityData, path: Path, bins: int = 10) -> Path:
    """Observed frequency against mean confidence per bin, with the bin counts below."""
    points = reliability_bins(data.confidences, data.outcomes, bins)
    ece = statistic("ece", ece_rows(data.confidences, data.outcomes, bins))
    fig = Figure(figsize=(5.2, 6))
    top, bottom = fig.subplots(2, 1, height_ratios=[3, 1], sharex=True)
    top.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfect calibration")
    if points:
        mean_conf, observed, counts = zip(*points, strict=True)
        top.plot(mean_conf, observed, marker="o", label="observed")
        bottom.bar(mean_conf, counts, width=0.8 / bins)
    top.set_ylabel(f"share where {data.meaning}")
    top.set_ylim(0, 1)
    top.set_title(f"Reliability: {data.name} (ECE {ece:.3f}, n={len(data.confidences)})")
    top.legend(loc="upper left")
    bottom.set_xlabel("predicted probability")
    bottom.set_ylabel("items")
    bottom.set_xlim(0, 1)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return path


def _plottable(metric: MetricResult) -> bool:
    return (
        metric.defined
        and not metric.unit
        and metric.low is not None
        and metric.high is not None
        and -1.0 <= (metric.value or 0.0) <= 1.0
        and not metric.name.endswith("_errors")
    )


def scores_png(suites: Sequence[SuiteResult], path: Path, *, judge_label: str) -> Path:
    """Every 0-1 metric per suite (agent) with its 95% interval."""
    rows = [(s, m) for s in suites for m in s.metrics if _plottable(m)]
    fig = Figure(figsize=(8, 0.32 * max(len(rows), 4) + 1.6))
    ax = fig.add_subplot()
    colours = {name: f"C{i}" for i, name in enumerate(dict.fromkeys(s.name for s, _ in rows))}
    for y, (suite, metric) in enumerate(rows):
        colour = colours[suite.name]
        ax.hlines(y, metric.low, metric.high, color=colour, linewidth=1.5)
        ax.plot(metric.value, y, "o", color=colour)
    labels = [
        f"{s.agent}: {m.name}"
        + (" *" if m.name.startswith("judge_") else "")
        + ("" if m.higher_is_better else " (lower is better)")
        for s, m in rows
    ]
    ax.set_yticks(range(len(rows)), labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(min([0.0, *[(m.low or 0.0) for _, m in rows]]), 1.02)
    ax.axvline(0, color="grey", linewidth=0.5)
    ax.set_xlabel("value with 95% bootstrap interval")
    ax.set_title("Scores per agent")
    fig.text(0.01, 0.005, f"* scored by the {judge_label}", fontsize=7)
    fig.tight_layout(rect=(0, 0.02, 1, 1))
    fig.savefig(path, dpi=110)
    return path
