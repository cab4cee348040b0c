"""Indirect-injection screening of document chunks and tool outputs before they enter a prompt.

A flagged chunk is quarantined: it is returned apart, with a PHI-free decision, and must never
be placed in a prompt. Each chunk gets the fast patterns, then the classifier on its vector (the
vector store's own MiniLM vector when given, else one guarded embedding) and on its cue sentences.

Usage:
    screen = guards.chunks.screen(chunks, text_of=lambda c: c.text, vectors=chunk_vectors)
    prompt_chunks = screen.kept  # screen.quarantined never reaches a model
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, Literal, TypeVar

import numpy as np

from tools.guards.injection_classifier import InjectionClassifier
from tools.guards.injection_patterns import InjectionPatterns, cue_sentences
from tools.guards.metrics import GuardDecision, GuardMetrics
from tools.guards.policy import GuardPolicy
from tools.guards.shared_embeddings import SharedEmbeddings

C = TypeVar("C")


@dataclass(frozen=True)
class ChunkScreen(Generic[C]):
    """Chunks safe to put in a prompt, chunks quarantined, and one decision per chunk."""

    kept: list[C]
    quarantined: list[C]
    decisions: list[GuardDecision] = field(default_factory=list)


class ChunkScreener:
    """Screens retrieved chunks and tool outputs for instructions aimed at the model."""

    def __init__(
        self,
        patterns: InjectionPatterns,
        classifier: InjectionClassifier,
        embeddings: SharedEmbeddings,
        *,
        policy: GuardPolicy,
        metrics: GuardMetrics | None = None,
    ) -> None:
        self._patterns = patterns
        self._classifier = classifier
        self._embeddings = embeddings
        self._policy = policy
        self.metrics = metrics or GuardMetrics()

    def screen(
        self,
        chunks: Sequence[C],
        *,
        text_of: Callable[[C], str],
        vectors: np.ndarray | None = None,
        source: Literal["document", "tool"] = "document",
    ) -> ChunkScreen[C]:
        """Quarantine every chunk the patterns or the classifier flag."""
        kept: list[C] = []
        quarantined: list[C] = []
        decisions: list[GuardDecision] = []
        texts = [text_of(c) for c in chunks]
        if vectors is None and texts:
            vectors = self._embeddings.embed(texts)
        for index, (chunk, text) in enumerate(zip(chunks, texts, strict=True)):
            started = time.perf_counter()
            flagged, detail = self._flag(text, vectors[index] if vectors is not None else None)
            decision = GuardDecision(
                guard="injection",
                stage="chunk",
                action="block" if flagged else "pass",
                severity=self._policy.severity,
                latency_ms=(time.perf_counter() - started) * 1000,
                route=source,
                reason="quarantined" if flagged else None,
                detail={"index": index, **detail},
            )
            self.metrics.observe(decision)
            decisions.append(decision)
            (quarantined if flagged else kept).append(chunk)
        return ChunkScreen(kept, quarantined, decisions)

    def _flag(self, text: str, vector: np.ndarray | None) -> tuple[bool, dict[str, object]]:
        hit = self._patterns.check(text)
        if hit is not None:
            return True, {"layer": "pattern", "family": hit.family, "view": hit.view}
        score = self._classifier.score(vector[None, :]) if vector is not None else 0.0
        sentences = cue_sentences(text)
        if sentences and score < self._classifier.threshold:
            score = max(score, self._classifier.score(self._embeddings.embed(sentences)))
        return score >= self._classifier.threshold, {
            "layer": "classifier",
            "score": round(score, 4),
        }
