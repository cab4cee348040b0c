"""Validate the tutor's BKT EM against the reference pyBKT on simulated learners.

    .venv/bin/python -m evals.tutor_bkt                   # full size (a few minutes on 1 core)
    .venv/bin/python -m evals.tutor_bkt --learners 150    # smaller

Learners are drawn from BKT with known parameters per concept. Both fitters see the same
training learners; predicted correctness (one step ahead) is scored by AUC on held-out
learners, and the fitted parameters are printed beside the truth.
"""

from __future__ import annotations

import argparse
import random
import time
import types
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import sklearn.metrics
from rich.console import Console
from rich.table import Table

from tools.tutor.bkt import BKTParams, fit_em, predict_sequence, sample_sequences

TRUTH: dict[str, BKTParams] = {
    "silhouette_sign": BKTParams(prior=0.2, learn=0.15, guess=0.25, slip=0.1),
    "pneumothorax": BKTParams(prior=0.35, learn=0.08, guess=0.2, slip=0.06),
    "ppv_prevalence": BKTParams(prior=0.1, learn=0.25, guess=0.15, slip=0.12),
    "line_positions": BKTParams(prior=0.5, learn=0.1, guess=0.3, slip=0.05),
}
PARAM_NAMES = ("prior", "learn", "guess", "slip")


def load_pybkt_model() -> type:
    """pyBKT's `Model`, imported so that it works with the installed numpy and scikit-learn.

    pyBKT 1.4.3 has two incompatibilities, bridged here without touching its maths:
    at import it probes scikit-learn's private metric modules and crashes on the current ones
    (only its own auc/rmse/accuracy are needed, so the probe is shown empty modules), and its
    EM stores a (1, 1) log-likelihood array into a float slot, which numpy ≥ 2.4 refuses (the
    E-step's result is handed on as the same value, as a float).
    """
    metrics = sklearn.metrics
    private = metrics._classification, metrics._regression  # type: ignore[attr-defined]
    metrics._classification = metrics._regression = types.SimpleNamespace()  # type: ignore[attr-defined]
    try:
        from pyBKT.fit import EM_fit
        from pyBKT.models import Model
    finally:
        metrics._classification, metrics._regression = private  # type: ignore[attr-defined]
    e_step = EM_fit.run
    if not getattr(e_step, "scalar_loglike", False):

        def run_with_float_loglike(*args: Any, **kwargs: Any) -> dict[str, Any]:
            result = e_step(*args, **kwargs)
            result["total_loglike"] = float(np.asarray(result["total_loglike"]).reshape(-1)[0])
            return result

        run_with_float_loglike.scalar_loglike = True  # type: ignore[attr-defined]
        EM_fit.run = run_with_float_loglike
    return Model


@dataclass(frozen=True)
class ConceptResult:
    """Truth and both fits for one concept, with held-out AUCs."""

    concept: str
    truth: BKTParams
    ours: BKTParams
    pybkt: BKTParams
    auc_ours: float
    auc_pybkt: float
    auc_truth: float


@dataclass(frozen=True)
class Comparison:
    """Per-concept results, pooled held-out AUCs and fit times."""

    concepts: list[ConceptResult]
    auc_ours: float
    auc_pybkt: float
    auc_truth: float
    seconds_ours: float
    seconds_pybkt: float
    train_learners: int
    test_learners: int
    steps: int

    @property
    def auc_gap(self) -> float:
        """|AUC(ours) − AUC(pyBKT)| on the held-out learners."""
        return abs(self.auc_ours - self.auc_pybkt)

    def worst_param_error(self) -> float:
        """Largest |fitted − true| over every concept and parameter of our EM."""
        return max(
            abs(getattr(c.ours, name) - getattr(c.truth, name))
            for c in self.concepts
            for name in PARAM_NAMES
        )


def _frame(sequences: dict[str, list[list[bool]]], first_user: int) -> pd.DataFrame:
    rows = [
        {"order_id": 0, "user_id": first_user + u, "skill_name": concept, "correct": int(answer)}
        for concept, seqs in sequences.items()
        for u, seq in enumerate(seqs)
        for answer in seq
    ]
    frame = pd.DataFrame(rows)
    frame["order_id"] = np.arange(len(frame))
    return frame


def _auc(outcomes: Sequence[bool], predictions: Sequence[float]) -> float:
    return float(sklearn.metrics.roc_auc_score(np.asarray(outcomes, int), predictions))


def compare(
    *,
    train_learners: int = 400,
    test_learners: int = 200,
    steps: int = 15,
    truth: dict[str, BKTParams] | None = None,
    seed: int = 0,
    restarts: int = 5,
) -> Comparison:
    """Simulate, fit with our EM and with pyBKT, and score both on held-out learners."""
    truth = truth or TRUTH
    rng = random.Random(seed)
    train = {c: sample_sequences(p, train_learners, steps, rng) for c, p in truth.items()}
    test = {c: sample_sequences(p, test_learners, steps, rng) for c, p in truth.items()}

    started = time.perf_counter()
    ours = {c: fit_em(train[c], restarts=restarts, seed=seed).params for c in truth}
    seconds_ours = time.perf_counter() - started

    model_class = load_pybkt_model()
    model = model_class(seed=seed, num_fits=restarts, parallel=False)
    test_frame = _frame(test, train_learners)
    with warnings.catch_warnings():
        # pyBKT's own pandas calls are deprecated in pandas 3; the results are unaffected.
        warnings.filterwarnings("ignore", module=r"pyBKT\.")
        started = time.perf_counter()
        model.fit(data=_frame(train, 0))
        seconds_pybkt = time.perf_counter() - started
        predicted = model.predict(data=test_frame)
    coef = model.coef_
    theirs = {
        c: BKTParams(
            prior=float(coef[c]["prior"]),
            learn=float(coef[c]["learns"][0]),
            guess=float(coef[c]["guesses"][0]),
            slip=float(coef[c]["slips"][0]),
        )
        for c in truth
    }

    results: list[ConceptResult] = []
    pooled: dict[str, list[float]] = {"y": [], "ours": [], "pybkt": [], "truth": []}
    for concept, params in truth.items():
        outcomes = [a for seq in test[concept] for a in seq]
        mine = [p for seq in test[concept] for p in predict_sequence(seq, ours[concept])]
        oracle = [p for seq in test[concept] for p in predict_sequence(seq, params)]
        rows = predicted[predicted["skill_name"] == concept].sort_values("order_id")
        reference = rows["correct_predictions"].astype(float).tolist()
        results.append(
            ConceptResult(
                concept,
                params,
                ours[concept],
                theirs[concept],
                _auc(outcomes, mine),
                _auc(outcomes, reference),
                _auc(outcomes, oracle),
            )
        )
        for key, values in (("y", outcomes), ("ours", mine), ("pybkt", reference)):
            pooled[key] += values
        pooled["truth"] += oracle
    return Comparison(
        concepts=results,
        auc_ours=_auc(pooled["y"], pooled["ours"]),
        auc_pybkt=_auc(pooled["y"], pooled["pybkt"]),
        auc_truth=_auc(pooled["y"], pooled["truth"]),
        seconds_ours=seconds_ours,
        seconds_pybkt=seconds_pybkt,
        train_learners=train_learners,
        test_learners=test_learners,
        steps=steps,
    )


def render(result: Comparison, console: Console) -> None:
    """Print the parameter table and the AUC table."""
    params = Table(
        title=(
            f"BKT parameters: truth vs our EM vs pyBKT ({result.train_learners} training "
            f"learners × {result.steps} answers per concept)"
        )
    )
    for column in ("concept", "param", "truth", "ours", "pyBKT", "|ours−truth|"):
        params.add_column(column, justify="left" if column in ("concept", "param") else "right")
    for c in result.concepts:
        for name in PARAM_NAMES:
            t, o, p = (getattr(x, name) for x in (c.truth, c.ours, c.pybkt))
            params.add_row(c.concept, name, f"{t:.3f}", f"{o:.3f}", f"{p:.3f}", f"{abs(o - t):.3f}")
    console.print(params)
    aucs = Table(title=f"Predicted-correctness AUC on {result.test_learners} held-out learners")
    for column in ("concept", "ours", "pyBKT", "true params", "|ours−pyBKT|"):
        aucs.add_column(column, justify="left" if column == "concept" else "right")
    for c in result.concepts:
        gap = abs(c.auc_ours - c.auc_pybkt)
        aucs.add_row(
            c.concept, f"{c.auc_ours:.4f}", f"{c.auc_pybkt:.4f}", f"{c.auc_truth:.4f}", f"{gap:.4f}"
        )
    aucs.add_row(
        "pooled",
        f"{result.auc_ours:.4f}",
        f"{result.auc_pybkt:.4f}",
        f"{result.auc_truth:.4f}",
        f"{result.auc_gap:.4f}",
    )
    console.print(aucs)
    console.print(
        f"fit time: ours {result.seconds_ours:.2f} s, pyBKT {result.seconds_pybkt:.2f} s "
        f"(ratio {result.seconds_pybkt / max(result.seconds_ours, 1e-9):.0f}×)"
    )


def main(argv: Sequence[str] | None = None) -> None:
    """Run the comparison and print both tables."""
    parser = argparse.ArgumentParser(prog="python -m evals.tutor_bkt", description=__doc__)
    parser.add_argument("--learners", type=int, default=400, help="training learners per concept")
    parser.add_argument("--test-learners", type=int, default=200)
    parser.add_argument("--steps", type=int, default=15, help="answers per learner and concept")
    parser.add_argument("--restarts", type=int, default=5, help="EM starts for both fitters")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    result = compare(
        train_learners=args.learners,
        test_learners=args.test_learners,
        steps=args.steps,
        seed=args.seed,
        restarts=args.restarts,
    )
    render(result, Console())


if __name__ == "__main__":
    main()
