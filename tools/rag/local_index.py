"""In-process search over one tenant's chunks: exact dense scan (numpy) and BM25 (bm25s).

Milvus Lite 3.x is pure Python: at 100k chunks its HNSW search took about 150 ms and its BM25
about 1.5 s per query on 2 cores. This index holds the same vectors in one float32 matrix (an
exact inner-product scan takes about 8 ms at 100k) and the same texts in a scipy sparse BM25
matrix (a few ms), so a Milvus Lite store answers both lists in process. It is derived data:
`LocalIndexCache` builds it from the chunk store on first use and drops it whenever the store
writes that tenant's chunks.

The BM25 analyzer mirrors the Milvus collection's: Unicode word tokens (single characters
kept), lower case, Lucene's English stop words, Snowball English stemming (PyStemmer). Scoring
is Lucene's BM25 with Milvus's defaults, k1 = 1.2 and b = 0.75.

Usage:
    row = IndexRow("acme:c1", "guides", "a.md", "Pleural effusion…", vector)
    index = LocalIndex.build([row], dim=384)
    index.bm25("blunted costophrenic angle", k=20)          # [Scored("acme:c1", 3.1, …), …]
    index.dense(query_vector, k=20, collection="guides")    # [Scored("acme:c1", 0.82, …), …]
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass

import bm25s
import numpy as np
import Stemmer

K1 = 1.2
B = 0.75
# Lucene's English stop set, as Milvus's "_english_" stop filter uses.
STOP_WORDS = (
    "a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "if", "in", "into", "is", "it",
    "no", "not", "of", "on", "or", "such", "that", "the", "their", "then", "there", "these",
    "they", "this", "to", "was", "will", "with",
)  # fmt: skip
WORD = r"(?u)\b\w+\b"


@dataclass(frozen=True)
class Scored:
    """One chunk a search found: its key, its score there and its stored vector."""

    pk: str
    score: float
    vector: np.ndarray


@dataclass(frozen=True)
class IndexRow:
    """What the index needs of one chunk: its key, scope fields, analysed text and vector."""

    pk: str
    collection: str
    source: str
    text: str
    vector: np.ndarray


def _tokenizer() -> bm25s.tokenization.Tokenizer:
    return bm25s.tokenization.Tokenizer(
        lower=True, splitter=WORD, stopwords=list(STOP_WORDS), stemmer=Stemmer.Stemmer("english")
    )


class LocalIndex:
    """Dense and BM25 scores of every chunk of one tenant, narrowed by collection or source."""

    def __init__(
        self,
        tokenizer: bm25s.tokenization.Tokenizer,
        bm25: bm25s.BM25 | None,
        rows: Sequence[IndexRow],
        dim: int,
    ) -> None:
        self._tokenizer = tokenizer
        self._words = {i: w for w, i in tokenizer.get_vocab_dict().items()}
        self._bm25 = bm25
        self._pks = [r.pk for r in rows]
        self._collections = np.array([r.collection for r in rows], dtype=object)
        self._sources = np.array([r.source for r in rows], dtype=object)
        self._vectors = (
            np.stack([r.vector for r in rows]).astype(np.float32)
            if rows
            else np.zeros((0, dim), dtype=np.float32)
        )

    @classmethod
    def build(cls, rows: Sequence[IndexRow], dim: int) -> LocalIndex:
        """Stack the vectors; tokenise, stem and index the texts (~6 s per 100k on 2 cores)."""
        tokenizer = _tokenizer()
        bm25: bm25s.BM25 | None = None
        if rows:
            ids = tokenizer.tokenize([r.text for r in rows], return_as="ids", show_progress=False)
            bm25 = bm25s.BM25(k1=K1, b=B, method="lucene")
            bm25.index(
                bm25s.tokenization.Tokenized(ids=ids, vocab=tokenizer.get_vocab_dict()),
                show_progress=False,
            )
        return cls(tokenizer, bm25, rows, dim)

    def dense(
        self,
        query: np.ndarray,
        k: int,
        *,
        collection: str | None = None,
        sources: Sequence[str] | None = None,
    ) -> list[Scored]:
        """The top-k chunks in scope by inner product, best first (an exact scan)."""
        scores = self._vectors @ query.astype(np.float32)
        return self._top(scores, self._scope(collection, sources), k, positive=False)

    def bm25(
        self,
        query: str,
        k: int,
        *,
        collection: str | None = None,
        sources: Sequence[str] | None = None,
    ) -> list[Scored]:
        """The top-k chunks in scope with a positive BM25 score, best first."""
        if self._bm25 is None:
            return []
        ids = self._tokenizer.tokenize(
            [query], update_vocab=False, return_as="ids", show_progress=False
        )[0]
        known = [w for w in (self._words[i] for i in ids) if w in self._bm25.vocab_dict]
        if not known:
            return []
        scores = self._bm25.get_scores(known)
        return self._top(scores, self._scope(collection, sources), k, positive=True)

    def _scope(self, collection: str | None, sources: Sequence[str] | None) -> np.ndarray | None:
        mask: np.ndarray | None = None
        if collection is not None:
            mask = self._collections == collection
        if sources is not None:
            in_sources = np.isin(self._sources, list(sources))
            mask = in_sources if mask is None else mask & in_sources
        return mask

    def _top(
        self, scores: np.ndarray, mask: np.ndarray | None, k: int, *, positive: bool
    ) -> list[Scored]:
        candidates = np.arange(len(scores)) if mask is None else np.flatnonzero(mask)
        if positive:
            candidates = candidates[scores[candidates] > 0.0]
        if k < 1 or not len(candidates):
            return []
        if len(candidates) > k:
            part = np.argpartition(-scores[candidates], k - 1)[:k]
            candidates = candidates[part]
        ordered = candidates[np.lexsort((candidates, -scores[candidates]))]
        return [Scored(self._pks[i], float(scores[i]), self._vectors[i]) for i in ordered]


class LocalIndexCache:
    """Per-key indexes built on first use and dropped on write; safe across threads.

    A build that overlaps a write is used for the query that asked for it but not kept, so a
    kept index never misses a write that finished before the next query.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._indexes: dict[Hashable, LocalIndex] = {}
        self._generations: dict[Hashable, int] = {}

    def get(self, key: Hashable, build: Callable[[], LocalIndex]) -> LocalIndex:
        """The index for `key`, made by `build()` when it is missing or stale."""
        with self._lock:
            index = self._indexes.get(key)
            generation = self._generations.get(key, 0)
        if index is not None:
            return index
        index = build()
        with self._lock:
            if self._generations.get(key, 0) == generation:
                self._indexes[key] = index
        return index

    def invalidate(self, key: Hashable) -> None:
        """Forget the index for `key`; the next `get` rebuilds it."""
        with self._lock:
            self._generations[key] = self._generations.get(key, 0) + 1
            self._indexes.pop(key, None)
