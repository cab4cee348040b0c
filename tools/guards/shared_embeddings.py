"""One embedding pass per message: a memo in front of the embedder shared by guards and router.

The input guard embeds the (redacted) message for the injection classifier; the intent router
then asks for the same vectors and gets them from the memo, so a turn runs MiniLM once. Long
messages are embedded in windows, which the classifier scores one by one. Every embedder call
goes through `guarded` (the embedder sees user text, so it gets the PHI screen too).

Usage:
    shared = SharedEmbeddings(MiniLMEmbedder.load(), ModelCallGuard(PhiRedactor()))
    classifier = IntentClassifier.from_default(shared)  # the router
    windows = shared.message_windows(text)  # the injection guard: [n_windows, 384]
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import Protocol

import numpy as np

from tools.guards.wrapper import ModelCallGuard, guarded
from tools.models.embedder import WindowedEmbedding


class Embedder(Protocol):
    """What `MiniLMEmbedder` provides."""

    max_tokens: int

    def embed(self, texts: Sequence[str]) -> np.ndarray: ...

    def embed_windows(self, text: str, *, overlap: int = 32) -> WindowedEmbedding: ...

    def token_count(self, text: str) -> int: ...


class SharedEmbeddings:
    """Memoises single-text vectors and window sets (bounded LRU, thread-safe)."""

    def __init__(self, embedder: Embedder, guard: ModelCallGuard, capacity: int = 64) -> None:
        self._embedder = embedder
        self._guard = guard
        self.max_tokens = embedder.max_tokens
        self._capacity = capacity
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self._windows: OrderedDict[tuple[str, int], WindowedEmbedding] = OrderedDict()
        self._lock = threading.Lock()

    def clear(self) -> None:
        """Forget every memoised vector (benchmarks measure cold turns with it)."""
        with self._lock:
            self._vectors.clear()
            self._windows.clear()

    def token_count(self, text: str) -> int:
        """Word pieces in `text` (delegated)."""
        return self._embedder.token_count(text)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Like `MiniLMEmbedder.embed`; the first text is served from and kept in the memo."""
        if not texts:
            return self._run(texts)
        with self._lock:
            head = self._vectors.get(texts[0])
        if head is None:
            vectors = self._run(texts)
            if len(texts) <= 8:
                self._remember(self._vectors, texts[0], vectors[0])
            return vectors
        if len(texts) == 1:
            return head[None, :]
        return np.vstack([head[None, :], self._run(texts[1:])])

    def _run(self, texts: Sequence[str]) -> np.ndarray:
        return guarded(self._guard, "embedder", texts, self._embedder.embed)

    def embed_windows(self, text: str, *, overlap: int = 32) -> WindowedEmbedding:
        """Like `MiniLMEmbedder.embed_windows`, memoised per (text, overlap)."""
        with self._lock:
            cached = self._windows.get((text, overlap))
        if cached is None:
            cached = guarded(
                self._guard,
                "embedder",
                [text],
                lambda texts: self._embedder.embed_windows(texts[0], overlap=overlap),
            )
            self._remember(self._windows, (text, overlap), cached)
        return cached

    def message_windows(self, text: str) -> np.ndarray:
        """The vectors the router computes for `text`: one row, or one per 256-token window."""
        if self.token_count(text) <= self.max_tokens - 2:
            return self.embed([text])[:1]
        return self.embed_windows(text).windows

    def _remember(self, memo: OrderedDict, key: object, value: object) -> None:
        with self._lock:
            memo[key] = value
            memo.move_to_end(key)
            while len(memo) > self._capacity:
                memo.popitem(last=False)
