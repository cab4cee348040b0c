"""Bayesian Knowledge Tracing: the per-concept update, predicted correctness, and EM fitting.

A two-state hidden Markov model per learner × concept (unknown → known, no forgetting):
P(L0) the prior of knowing, P(T) the chance to learn at each opportunity, P(G) the chance to
answer right without knowing, P(S) the chance to slip when knowing.

Usage:
    params = BKTParams(prior=0.25, learn=0.15, guess=0.25, slip=0.1)
    p = params.prior
    p = update(p, correct=True, params=params)        # after one right answer: 0.6136
    fit = fit_em([[False, True, True], [True, True]])  # Baum-Welch from interaction logs
    fit.params.learn
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

EPS = 1e-6
MAX_GUESS = 0.5  # above this a wrong answer would signal knowing: the model is not identifiable
MAX_SLIP = 0.5


@dataclass(frozen=True)
class BKTParams:
    """The four BKT parameters of one concept."""

    prior: float
    learn: float
    guess: float
    slip: float

    def __post_init__(self) -> None:
        for name in ("prior", "learn", "guess", "slip"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"BKT {name} must be a probability, got {value}")

    def clipped(self) -> BKTParams:
        """The same parameters kept inside the identifiable region (EM's M-step output)."""
        return BKTParams(
            prior=float(np.clip(self.prior, EPS, 1 - EPS)),
            learn=float(np.clip(self.learn, EPS, 1 - EPS)),
            guess=float(np.clip(self.guess, EPS, MAX_GUESS)),
            slip=float(np.clip(self.slip, EPS, MAX_SLIP)),
        )


def predict_correct(p_known: float, params: BKTParams) -> float:
    """P(correct) at the next opportunity: known and no slip, or unknown and a guess."""
    return p_known * (1 - params.slip) + (1 - p_known) * params.guess


def posterior(p_known: float, correct: bool, params: BKTParams) -> float:
    """P(known | this answer), before the learning transition (Bayes' rule)."""
    if correct:
        known = p_known * (1 - params.slip)
        unknown = (1 - p_known) * params.guess
    else:
        known = p_known * params.slip
        unknown = (1 - p_known) * (1 - params.guess)
    total = known + unknown
    return known / total if total > 0 else p_known


def update(p_known: float, correct: bool, params: BKTParams) -> float:
    """P(known) at the next opportunity: the posterior, then the chance to learn."""
    post = posterior(p_known, correct, params)
    return post + (1 - post) * params.learn


def predict_sequence(outcomes: Sequence[bool], params: BKTParams) -> list[float]:
    """One-step-ahead predicted correctness before each answer of one learner × concept."""
    p = params.prior
    predictions: list[float] = []
    for correct in outcomes:
        predictions.append(predict_correct(p, params))
        p = update(p, correct, params)
    return predictions


def sample_sequences(
    params: BKTParams, learners: int, steps: int, rng: random.Random
) -> list[list[bool]]:
    """Simulated answer sequences drawn from the BKT generative model (for validation)."""
    sequences: list[list[bool]] = []
    for _ in range(learners):
        known = rng.random() < params.prior
        answers: list[bool] = []
        for _ in range(steps):
            answers.append(rng.random() < (1 - params.slip if known else params.guess))
            known = known or rng.random() < params.learn
        sequences.append(answers)
    return sequences


@dataclass(frozen=True)
class FitResult:
    """Parameters found by EM, the data log-likelihood under them, and how EM got there."""

    params: BKTParams
    log_likelihood: float
    iterations: int
    sequences: int
    observations: int


def _padded(sequences: Sequence[Sequence[bool]]) -> tuple[np.ndarray, np.ndarray]:
    """Outcomes [n, T] as 0/1 floats and a mask of real steps, for vectorised passes."""
    longest = max(len(s) for s in sequences)
    obs = np.zeros((len(sequences), longest))
    mask = np.zeros((len(sequences), longest), dtype=bool)
    for i, seq in enumerate(sequences):
        obs[i, : len(seq)] = np.asarray(seq, dtype=float)
        mask[i, : len(seq)] = True
    return obs, mask


def _e_step(
    params: BKTParams, obs: np.ndarray, mask: np.ndarray
) -> tuple[float, np.ndarray, np.ndarray]:
    """Scaled forward-backward over all sequences at once.

    Returns the log-likelihood, gamma [n, T, 2] (P(state | all answers), zero on padding) and
    xi01 [n, T-1] (P(unknown at t and known at t+1 | all answers), zero on padding).
    """
    n, steps = obs.shape
    trans = np.array([[1 - params.learn, params.learn], [0.0, 1.0]])
    emit_correct = np.array([params.guess, 1 - params.slip])
    emission = obs[..., None] * emit_correct + (1 - obs[..., None]) * (1 - emit_correct)
    emission = np.where(mask[..., None], emission, 1.0)

    alpha = np.zeros((n, steps, 2))
    scale = np.ones((n, steps))
    a = np.array([1 - params.prior, params.prior]) * emission[:, 0]
    scale[:, 0] = a.sum(axis=1)
    alpha[:, 0] = a / scale[:, 0:1]
    for t in range(1, steps):
        a = (alpha[:, t - 1] @ trans) * emission[:, t]
        live = mask[:, t]
        a = np.where(live[:, None], a, alpha[:, t - 1])
        scale[:, t] = np.where(live, a.sum(axis=1), 1.0)
        alpha[:, t] = a / scale[:, t : t + 1]

    beta = np.ones((n, steps, 2))
    for t in range(steps - 2, -1, -1):
        live = mask[:, t + 1]
        b = ((emission[:, t + 1] * beta[:, t + 1]) @ trans.T) / scale[:, t + 1 : t + 2]
        beta[:, t] = np.where(live[:, None], b, 1.0)

    gamma = alpha * beta
    gamma /= gamma.sum(axis=2, keepdims=True)
    gamma *= mask[..., None]
    xi01 = (
        alpha[:, :-1, 0]
        * params.learn
        * emission[:, 1:, 1]
        * beta[:, 1:, 1]
        / scale[:, 1:]
        * mask[:, 1:]
    )
    return float(np.log(scale).sum()), gamma, xi01


def _m_step(obs: np.ndarray, mask: np.ndarray, gamma: np.ndarray, xi01: np.ndarray) -> BKTParams:
    unknown, known = gamma[..., 0], gamma[..., 1]
    unknown_before_last = (unknown[:, :-1] * mask[:, 1:]).sum()
    wrong = (1 - obs) * mask
    return BKTParams(
        prior=float(known[:, 0].mean()),
        learn=float(xi01.sum() / max(unknown_before_last, EPS)),
        guess=float((unknown * obs).sum() / max(unknown.sum(), EPS)),
        slip=float((known * wrong).sum() / max(known.sum(), EPS)),
    ).clipped()


def log_likelihood(sequences: Sequence[Sequence[bool]], params: BKTParams) -> float:
    """Log-likelihood of the answer sequences under `params`."""
    obs, mask = _padded(sequences)
    return _e_step(params, obs, mask)[0]


def _random_start(rng: random.Random) -> BKTParams:
    """A starting point in the plausible region, like pyBKT's random initialisation."""
    return BKTParams(
        prior=rng.uniform(0.05, 0.9),
        learn=rng.uniform(0.02, 0.4),
        guess=rng.uniform(0.05, 0.4),
        slip=rng.uniform(0.02, 0.3),
    )


def fit_em(
    sequences: Sequence[Sequence[bool]],
    *,
    restarts: int = 5,
    max_iter: int = 200,
    tol: float = 1e-5,
    seed: int = 0,
    start: BKTParams | None = None,
) -> FitResult:
    """Fit one concept's parameters by Baum-Welch; the best of several seeded starts wins.

    `sequences` holds one list of answers (True = correct) per learner, in answer order.
    `start` (e.g. the concept's default) is always one of the starting points.
    """
    sequences = [s for s in sequences if len(s) > 0]
    if not sequences:
        raise ValueError("EM needs at least one non-empty answer sequence")
    obs, mask = _padded(sequences)
    rng = random.Random(seed)
    starts = [start] if start is not None else []
    starts += [_random_start(rng) for _ in range(max(restarts - len(starts), 0))]
    results: list[FitResult] = []
    for params in starts:
        params = params.clipped()
        previous = -np.inf
        iterations = 0
        while iterations < max_iter:
            ll, gamma, xi01 = _e_step(params, obs, mask)
            if ll - previous < tol:
                break
            previous = ll
            params = _m_step(obs, mask, gamma, xi01)
            iterations += 1
        ll = _e_step(params, obs, mask)[0]
        results.append(FitResult(params, ll, iterations, len(sequences), int(mask.sum())))
    return max(results, key=lambda r: r.log_likelihood)


def fit_or_default(
    sequences: Sequence[Sequence[bool]],
    default: BKTParams,
    *,
    min_sequences: int = 30,
    min_observations: int = 150,
    seed: int = 0,
) -> tuple[BKTParams, FitResult | None]:
    """EM-fitted parameters when the logs are large enough, else the concept's default."""
    usable = [s for s in sequences if s]
    if len(usable) < min_sequences or sum(len(s) for s in usable) < min_observations:
        return default, None
    fit = fit_em(usable, seed=seed, start=default)
    return fit.params, fit
