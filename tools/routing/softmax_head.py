"""A multinomial logistic-regression head with a cross-validated temperature, fitted on vectors.

Why this calibration: the raw probabilities of an L2-regularised softmax head reflect the
penalty strength as much as accuracy (too soft with a strong penalty, ~1.0 on everything with a
weak one), so they cannot be read against fixed thresholds. The temperature is fitted on
*out-of-fold* logits (k-fold over the exemplars, stratified, seeded): the T minimising the
negative log-likelihood of exemplars the fold model never saw. The final head is refitted on
all exemplars and its logits divided by T (fitted T = 0.33 on the packaged exemplars, i.e. the
raw head was too soft), so a score estimates how often a message that confident is routed
correctly, which is what the supervisor's 0.85 / 0.65 thresholds assume; `evals/routing.py`
reports the accuracy per band. Training is full-batch L-BFGS in float64 from zero weights (in
the dual, see `_fit_logistic`), on one thread: deterministic.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch.nn import functional as F

from state.errors import ConfigError


@dataclass(frozen=True)
class HeadConfig:
    """Regularisation, cross-validation and optimiser settings of the softmax head."""

    l2: float = 1e-3
    folds: int = 5
    seed: int = 0
    max_iter: int = 100
    temperatures: tuple[float, ...] = tuple(float(t) for t in np.geomspace(0.05, 20.0, 241))


def _fit_logistic(
    x: np.ndarray, y: np.ndarray, n_classes: int, config: HeadConfig
) -> tuple[np.ndarray, np.ndarray]:
    """Weights [d, c] and bias [c] minimising mean cross-entropy + l2 * ||W||^2.

    Solved in the dual: with an L2 penalty the optimal W lies in the span of the rows of x
    (W = x.T @ A), so L-BFGS runs over A [n, c] against the Gram matrix x @ x.T. With a few
    hundred exemplars and ~2,400 features that is ~8x less work per step than the primal.
    """
    features = torch.from_numpy(x.astype(np.float64))
    gram = features @ features.T
    targets = torch.from_numpy(y.astype(np.int64))
    dual = torch.zeros(len(y), n_classes, dtype=torch.float64, requires_grad=True)
    bias = torch.zeros(n_classes, dtype=torch.float64, requires_grad=True)
    optimiser = torch.optim.LBFGS(
        [dual, bias], max_iter=config.max_iter, line_search_fn="strong_wolfe"
    )

    def closure() -> torch.Tensor:
        optimiser.zero_grad()
        projected = gram @ dual
        penalty = config.l2 * (dual * projected).sum()
        loss = F.cross_entropy(projected + bias, targets) + penalty
        loss.backward()
        return loss

    previous = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny matrices: a second thread only adds sync stalls on busy cores
    try:
        optimiser.step(closure)
    finally:
        torch.set_num_threads(previous)
    return (features.T @ dual).detach().numpy(), bias.detach().numpy()


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=-1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=-1, keepdims=True)


def _stratified_folds(y: np.ndarray, folds: int, seed: int) -> np.ndarray:
    """Fold number of each example: every class spread evenly over the folds, seeded."""
    rng = np.random.default_rng(seed)
    assignment = np.empty(len(y), dtype=np.int64)
    for label in np.unique(y):
        members = rng.permutation(np.flatnonzero(y == label))
        assignment[members] = np.arange(len(members)) % folds
    return assignment


class SoftmaxHead:
    """Temperature-scaled linear softmax over fixed feature vectors."""

    def __init__(self, weight: np.ndarray, bias: np.ndarray, temperature: float) -> None:
        self.weight = weight
        self.bias = bias
        self.temperature = temperature

    @classmethod
    def fit(cls, x: np.ndarray, y: np.ndarray, n_classes: int, config: HeadConfig) -> SoftmaxHead:
        """Fit on all of (x, y) after choosing the temperature on out-of-fold logits."""
        counts = np.bincount(y, minlength=n_classes)
        if counts.min() < config.folds:
            raise ConfigError(f"every class needs at least {config.folds} examples, got {counts}")
        fold_of = _stratified_folds(y, config.folds, config.seed)
        held_out_logits = np.empty((len(y), n_classes))
        for fold in range(config.folds):
            train, test = fold_of != fold, fold_of == fold
            weight, bias = _fit_logistic(x[train], y[train], n_classes, config)
            held_out_logits[test] = x[test] @ weight + bias
        temperature = min(
            config.temperatures,
            key=lambda t: (
                -np.log(
                    np.clip(_softmax(held_out_logits / t)[np.arange(len(y)), y], 1e-12, 1.0)
                ).mean()
            ),
        )
        weight, bias = _fit_logistic(x, y, n_classes, config)
        return cls(weight, bias, temperature)

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """Class probabilities [n, c] for feature rows [n, d]."""
        return _softmax((x.astype(np.float64) @ self.weight + self.bias) / self.temperature)
