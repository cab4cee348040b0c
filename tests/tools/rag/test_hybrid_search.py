"""Hybrid search: RRF fusion, MMR, the chunk-filter seam and the LangChain retrieval tool."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from tests.tools.rag.corpus import DEMO_CORPUS, embedder, ingest
from tools.rag.hybrid_search import HybridRetriever, RetrievedChunk, mmr_order, rrf_fuse
from tools.rag.retrieval_tool import make_retrieval_tool
from tools.rag.store import ChunkStore


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("hybrid")
    shutil.copytree(DEMO_CORPUS, folder / "corpus")
    store = ChunkStore(str(folder / "rag.db"))
    ingest(store, [folder / "corpus"], "t1", "demo")
    yield store
    store.close()


def test_rrf_rewards_agreement_between_lists() -> None:
    scores = rrf_fuse([["a", "b", "c"], ["b", "c", "a"]], rrf_k=60)
    assert max(scores, key=scores.__getitem__) == "b"
    assert scores["b"] == pytest.approx(1 / 62 + 1 / 61)


def test_mmr_skips_near_duplicates() -> None:
    vectors = np.array([[1.0, 0.0], [0.999, 0.045], [0.0, 1.0]], dtype=np.float32)
    order = mmr_order(np.array([1.0, 0.0]), vectors, np.array([1.0, 0.99, 0.5]), k=2, lam=0.5)
    assert order == [0, 2]


def test_hybrid_ranks_the_right_section_first_with_both_lists(store: ChunkStore) -> None:
    retriever = HybridRetriever(store, embedder())
    top = retriever.search("what is the sail sign of left lower lobe collapse", "t1").chunks[0]
    assert top.chunk.section[-1] == "4.4 Atelectasis"
    assert top.dense_rank is not None and top.bm25_rank is not None
    assert top.label == "[chest_radiograph_guide.md §4.4 Atelectasis]"


def test_chunk_filter_sees_every_chunk_before_the_caller(store: ChunkStore) -> None:
    seen: list[str] = []

    def drop_html(query: str, chunks: list[RetrievedChunk]) -> list[RetrievedChunk]:
        seen.append(query)
        return [c for c in chunks if not c.chunk.source.endswith(".html")]

    retriever = HybridRetriever(store, embedder(), chunk_filter=drop_html, candidates=20)
    found = retriever.search("contrast reaction adrenaline dose", "t1", k=5).chunks
    assert seen == ["contrast reaction adrenaline dose"]
    assert found and all(c.chunk.source.endswith(".md") for c in found)


def test_mmr_mode_returns_k_distinct_chunks(store: ChunkStore) -> None:
    retriever = HybridRetriever(store, embedder(), mmr_lambda=0.5)
    found = retriever.search("pleural effusion on a chest film", "t1", k=4).chunks
    assert len({c.chunk.chunk_id for c in found}) == 4


def test_retrieval_tool_returns_chunks_with_score_and_label(store: ChunkStore) -> None:
    tool = make_retrieval_tool(HybridRetriever(store, embedder()), tenant_id="t1")
    hits = tool.invoke({"query": "endotracheal tube tip position", "k": 3})
    assert len(hits) == 3
    assert hits[0]["label"] == "[chest_radiograph_guide.md §5.1 Endotracheal tube]"
    assert hits[0]["score"] > 0 and "carina" in hits[0]["text"]
    assert (
        make_retrieval_tool(HybridRetriever(store, embedder()), "t2").invoke(
            {"query": "endotracheal tube"}
        )
        == []
    )
