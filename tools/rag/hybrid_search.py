"""Hybrid retrieval: dense MiniLM + BM25 candidates fused with reciprocal-rank fusion, optional MMR.

Usage:
    retriever = HybridRetriever(store, embedder, rrf_k=60)
    result = retriever.search("what blunts the costophrenic angle?", tenant_id="acme", k=5)
    for item in result.chunks:
        print(item.label, item.score, item.similarity)

`mode="dense"` or `mode="bm25"` gives the single-list baselines. `chunk_filter` is the seam for
the indirect-injection guard: it sees every retrieved chunk before the caller does and returns
the ones that may be used.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

import numpy as np

from state.errors import ConfigError, InputError
from tools.rag.chunking import Chunk
from tools.rag.citations import citation_label
from tools.rag.store import ChunkStore, Hit

SearchMode = Literal["hybrid", "dense", "bm25"]


class Embedder(Protocol):
    """What retrieval needs from an embedder (MiniLM): unit-length float32 rows."""

    def embed(self, texts: Sequence[str]) -> np.ndarray: ...


@dataclass(frozen=True)
class SearchFilters:
    """Narrow a search to one document collection and/or some sources."""

    collection: str | None = None
    sources: tuple[str, ...] | None = None


@dataclass(frozen=True)
class RetrievedChunk:
    """A retrieved chunk: fused score, cosine to the query, per-list ranks and its citation."""

    chunk: Chunk
    score: float
    similarity: float
    dense_rank: int | None
    bm25_rank: int | None
    vector: np.ndarray

    @property
    def label(self) -> str:
        """The citation label, e.g. `[guide.md §2.1 Heart size]`."""
        return citation_label(self.chunk.source, self.chunk.page, self.chunk.section)


@dataclass(frozen=True)
class RetrievalResult:
    """What one search found, and what it searched for."""

    query: str
    chunks: list[RetrievedChunk]
    query_vector: np.ndarray
    mode: SearchMode


ChunkFilter = Callable[[str, list[RetrievedChunk]], list[RetrievedChunk]]


def rrf_fuse(ranked_lists: Sequence[Sequence[str]], rrf_k: int) -> dict[str, float]:
    """Reciprocal-rank fusion: each id scores the sum of 1 / (rrf_k + rank) over the lists."""
    scores: dict[str, float] = {}
    for ranked in ranked_lists:
        for rank, key in enumerate(ranked, start=1):
            scores[key] = scores.get(key, 0.0) + 1.0 / (rrf_k + rank)
    return scores


def mmr_order(
    query: np.ndarray, vectors: np.ndarray, relevance: np.ndarray, k: int, lam: float
) -> list[int]:
    """Maximal marginal relevance: trade `relevance` (weight `lam`) against redundancy."""
    chosen: list[int] = []
    remaining = list(range(len(vectors)))
    while remaining and len(chosen) < k:
        if chosen:
            redundancy = (vectors[remaining] @ vectors[chosen].T).max(axis=1)
        else:
            redundancy = np.zeros(len(remaining), dtype=np.float32)
        gains = lam * relevance[remaining] - (1 - lam) * redundancy
        chosen.append(remaining.pop(int(np.argmax(gains))))
    return chosen


class HybridRetriever:
    """Dense + BM25 candidates from the chunk store, fused by RRF, for one tenant at a time.

    `candidates` is how deep each list is read before fusion; by default each list's top k.
    Reading deeper lets chunks that both lists rank low outscore a chunk only one list ranks
    first (two ranks near 20 beat one rank 1 under RRF): on the documents QA set, fusing the
    top 20 of each list found 0.953 of gold chunks at k=5, fusing the top 5 found 0.992.
    """

    def __init__(
        self,
        store: ChunkStore,
        embedder: Embedder,
        *,
        rrf_k: int = 60,
        candidates: int | None = None,
        mode: SearchMode = "hybrid",
        mmr_lambda: float | None = None,
        chunk_filter: ChunkFilter | None = None,
    ) -> None:
        if rrf_k < 1 or (candidates is not None and candidates < 1):
            raise ConfigError(f"rrf_k and candidates must be >= 1, got {rrf_k}, {candidates}")
        if mmr_lambda is not None and not 0.0 <= mmr_lambda <= 1.0:
            raise ConfigError(f"mmr_lambda must be in [0, 1], got {mmr_lambda}")
        self.store = store
        self.embedder = embedder
        self.rrf_k = rrf_k
        self.candidates = candidates
        self.mode = mode
        self.mmr_lambda = mmr_lambda
        self.chunk_filter = chunk_filter

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embed texts with the retriever's embedder ([n, 384], unit length)."""
        return self.embedder.embed(texts)

    def best_similarity(self, query: str, tenant_id: str) -> float:
        """Cosine similarity of the tenant's chunk closest to `query` (0.0 when it has none)."""
        if not query.strip():
            raise InputError("the search query is empty")
        hits = self.store.dense_search(tenant_id, self.embedder.embed([query])[0], 1)
        return hits[0].score if hits else 0.0

    def search(
        self, query: str, tenant_id: str, *, k: int = 5, filters: SearchFilters | None = None
    ) -> RetrievalResult:
        """The top-k chunks for `query` among the tenant's chunks (and `filters`)."""
        if not query.strip():
            raise InputError("the search query is empty")
        filters = filters or SearchFilters()
        query_vector = self.embedder.embed([query])[0]
        depth = k if self.candidates is None else max(self.candidates, k)
        dense: list[Hit] = []
        bm25: list[Hit] = []
        if self.mode in ("hybrid", "dense"):
            dense = self.store.dense_search(
                tenant_id,
                query_vector,
                depth,
                collection=filters.collection,
                sources=filters.sources,
            )
        if self.mode in ("hybrid", "bm25"):
            bm25 = self.store.bm25_search(
                tenant_id, query, depth, collection=filters.collection, sources=filters.sources
            )
        chunks = self._fuse(query_vector, dense, bm25)
        if self.mmr_lambda is not None and chunks:
            vectors = np.stack([c.vector for c in chunks])
            relevance = np.array([c.score for c in chunks], dtype=np.float32)
            relevance /= max(float(relevance.max()), 1e-12)
            chunks = [
                chunks[i] for i in mmr_order(query_vector, vectors, relevance, k, self.mmr_lambda)
            ]
        if self.chunk_filter is not None:
            chunks = self.chunk_filter(query, chunks)
        return RetrievalResult(query, chunks[:k], query_vector, self.mode)

    def _fuse(
        self, query_vector: np.ndarray, dense: list[Hit], bm25: list[Hit]
    ) -> list[RetrievedChunk]:
        by_id = {h.chunk.chunk_id: h for h in [*dense, *bm25]}
        dense_ids = [h.chunk.chunk_id for h in dense]
        bm25_ids = [h.chunk.chunk_id for h in bm25]
        fused = rrf_fuse([ids for ids in (dense_ids, bm25_ids) if ids], self.rrf_k)
        ordered = sorted(fused, key=lambda key: (-fused[key], key))
        return [
            RetrievedChunk(
                chunk=by_id[key].chunk,
                score=fused[key],
                similarity=float(by_id[key].vector @ query_vector),
                dense_rank=dense_ids.index(key) + 1 if key in dense_ids else None,
                bm25_rank=bm25_ids.index(key) + 1 if key in bm25_ids else None,
                vector=by_id[key].vector,
            )
            for key in ordered
        ]
