"""Our BKT EM against the reference pyBKT on simulated learners (small size; the eval is larger)."""

from __future__ import annotations

import pytest
from rich.console import Console

from evals.tutor_bkt import TRUTH, Comparison, compare, render


@pytest.fixture(scope="module")
def comparison() -> Comparison:
    truth = {c: TRUTH[c] for c in ("silhouette_sign", "ppv_prevalence")}
    return compare(train_learners=200, test_learners=100, steps=10, truth=truth, restarts=2)


def test_held_out_auc_is_within_two_points_of_pybkt(comparison: Comparison) -> None:
    assert comparison.auc_gap <= 0.02
    assert comparison.auc_ours > 0.7
    assert comparison.auc_ours >= comparison.auc_truth - 0.02


def test_fitted_parameters_are_close_to_the_truth_and_to_pybkt(comparison: Comparison) -> None:
    assert comparison.worst_param_error() <= 0.08
    for concept in comparison.concepts:
        for name in ("prior", "learn", "guess", "slip"):
            assert getattr(concept.ours, name) == pytest.approx(
                getattr(concept.pybkt, name), abs=0.03
            )


def test_report_prints_both_tables(comparison: Comparison) -> None:
    console = Console(record=True, width=120)
    render(comparison, console)
    text = console.export_text()
    assert "BKT parameters: truth vs our EM vs pyBKT" in text
    assert "pooled" in text and "silhouette_sign" in text
