"""The learned injection layer: logistic regression on MiniLM embeddings, max over windows.

Trained at load time, deterministically, on the `train` split of `evals/data/injection.jsonl`.
The decision threshold is calibrated on the train split too: out-of-fold scores from a 5-fold
split by template give the lowest threshold whose false-positive rate is at most `target_fpr`.
the fitted weights are cached under the cache directory, keyed by the data and embedder, so
later starts skip training. Nothing binary is committed.

Usage:
    clf = InjectionClassifier.load(shared_embeddings, cache_dir=settings.cache_dir)
    clf.score(shared_embeddings.message_windows(text))  # highest window probability
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Protocol

import numpy as np

from state.errors import AssetError

FORMAT_VERSION = "4"
FOLDS = 5


class BatchEmbedder(Protocol):
    """Embeds a batch of texts to unit vectors."""

    def embed(self, texts: Sequence[str]) -> np.ndarray: ...


@dataclass(frozen=True)
class Example:
    """One labelled text of the injection dataset."""

    text: str
    attack: bool
    family: str
    source: str
    split: str
    template: str


def default_dataset() -> Path:
    """The versioned dataset shipped with MedGraph."""
    return Path(str(resources.files("evals").joinpath("data/injection.jsonl")))


def load_examples(path: Path) -> list[Example]:
    """Read the JSONL dataset (text, label attack|benign, family, source, split, template)."""
    if not path.is_file():
        raise AssetError(f"injection dataset not found at {path}")
    examples = []
    for line in path.read_text("utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            examples.append(
                Example(
                    row["text"],
                    row["label"] == "attack",
                    row["family"],
                    row["source"],
                    row["split"],
                    row["template"],
                )
            )
    return examples


def fit_logistic(
    x: np.ndarray, y: np.ndarray, *, l2: float = 1e-3, steps: int = 2000, lr: float = 1.0
) -> tuple[np.ndarray, float]:
    """Full-batch gradient descent with class-balanced weights; deterministic (zero init)."""
    w = np.zeros(x.shape[1], dtype=np.float64)
    b = 0.0
    pos = max(float(y.sum()), 1.0)
    neg = max(float(len(y) - y.sum()), 1.0)
    weight = np.where(y == 1, len(y) / (2 * pos), len(y) / (2 * neg))
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-(x @ w + b)))
        g = weight * (p - y)
        w -= lr * (x.T @ g / len(y) + l2 * w)
        b -= lr * float(g.mean())
    return w, b


def _embed_in_batches(embedder: BatchEmbedder, texts: Sequence[str], size: int = 32) -> np.ndarray:
    return np.vstack([embedder.embed(texts[i : i + size]) for i in range(0, len(texts), size)])


def calibrated_threshold(benign_scores: np.ndarray, target_fpr: float) -> float:
    """The lowest threshold (at least 0.5) at which at most `target_fpr` of benign scores pass."""
    if len(benign_scores) == 0:
        return 0.5
    quantile = float(np.quantile(benign_scores, 1.0 - target_fpr, method="higher"))
    return max(0.5, min(quantile + 1e-6, 0.99))


class InjectionClassifier:
    """P(attack) for embedding rows; a message's score is its highest window's."""

    def __init__(self, weights: np.ndarray, bias: float, threshold: float) -> None:
        self.weights = weights.astype(np.float32)
        self.bias = float(bias)
        self.threshold = threshold

    def probabilities(self, vectors: np.ndarray) -> np.ndarray:
        """P(attack) per row of `vectors` [n, 384]."""
        logits = vectors.astype(np.float32) @ self.weights + self.bias
        return 1.0 / (1.0 + np.exp(-logits))

    def score(self, windows: np.ndarray) -> float:
        """The highest window probability (an attack at the end of a long text still counts)."""
        return float(self.probabilities(windows).max())

    @classmethod
    def train(
        cls, embedder: BatchEmbedder, examples: Sequence[Example], target_fpr: float = 0.01
    ) -> InjectionClassifier:
        """Fit on the `train` examples; calibrate the threshold out of fold, by template."""
        train = [e for e in examples if e.split == "train"]
        x = _embed_in_batches(embedder, [e.text for e in train]).astype(np.float64)
        y = np.array([1.0 if e.attack else 0.0 for e in train])
        groups = sorted({e.template for e in train})
        fold_of = {g: i % FOLDS for i, g in enumerate(groups)}
        folds = np.array([fold_of[e.template] for e in train])
        out_of_fold = np.zeros(len(train))
        for fold in range(FOLDS):
            held = folds == fold
            w, b = fit_logistic(x[~held], y[~held])
            out_of_fold[held] = 1.0 / (1.0 + np.exp(-(x[held] @ w + b)))
        w, b = fit_logistic(x, y)
        return cls(w, b, calibrated_threshold(out_of_fold[y == 0], target_fpr))

    @classmethod
    def load(
        cls,
        embedder: BatchEmbedder,
        *,
        cache_dir: Path,
        embedder_id: str,
        threshold: float | None = None,
        dataset: Path | None = None,
    ) -> InjectionClassifier:
        """Load cached weights for this dataset and embedder, or train and cache them.

        `threshold=None` uses the threshold calibrated on the train split.
        """
        path = dataset or default_dataset()
        key = hashlib.sha256(
            path.read_bytes() + embedder_id.encode() + FORMAT_VERSION.encode()
        ).hexdigest()[:16]
        cached = cache_dir / "guards" / f"injection-{key}.npz"
        if cached.is_file():
            with np.load(cached) as data:
                calibrated = float(data["threshold"])
                return cls(data["weights"], float(data["bias"]), threshold or calibrated)
        model = cls.train(embedder, load_examples(path))
        cached.parent.mkdir(parents=True, exist_ok=True)
        tmp = cached.with_suffix(".tmp.npz")
        np.savez(
            tmp,
            weights=model.weights,
            bias=np.array(model.bias),
            threshold=np.array(model.threshold),
        )
        tmp.replace(cached)
        if threshold is not None:
            model.threshold = threshold
        return model
