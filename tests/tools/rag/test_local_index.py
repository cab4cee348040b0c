"""The in-process search index of a Milvus Lite store: BM25 arithmetic, exact dense scan,
scope filters, and invalidation on every write (a stale index would return deleted chunks)."""

from __future__ import annotations

import math
import shutil
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from tests.tools.rag.corpus import DEMO_CORPUS, embedder, ingest
from tools.rag import store as store_module
from tools.rag.hybrid_search import HybridRetriever
from tools.rag.local_index import K1, B, IndexRow, LocalIndex, LocalIndexCache
from tools.rag.store import DEFAULT_COLLECTION, ChunkStore

TEXTS = {
    "c1": "Pleural effusions blunt the costophrenic angle.",
    "c2": "A pneumothorax shows a visceral pleural line.",
    "c3": "The heart is enlarged: cardiomegaly on a PA film.",
}


def _index(texts: dict[str, str], dim: int = 4) -> LocalIndex:
    rng = np.random.default_rng(0)
    rows = [
        IndexRow(pk, "guides" if i < 2 else "notes", f"{pk}.md", text, rng.standard_normal(dim))
        for i, (pk, text) in enumerate(texts.items())
    ]
    return LocalIndex.build(rows, dim)


def test_bm25_scores_match_lucene_bm25_by_hand() -> None:
    index = _index(TEXTS)
    found = index.bm25("effusion", 5)
    # After stop words and stemming each text holds 5 terms, e.g. c1: pleural effus blunt
    # costophren angl; c3: heart enlarg cardiomegali pa film. Lucene (since 8.0) drops the
    # constant (k1 + 1) factor, which changes no ranking.
    lengths = {"c1": 5, "c2": 5, "c3": 5}
    avgdl = sum(lengths.values()) / 3
    idf = math.log(1 + (3 - 1 + 0.5) / (1 + 0.5))
    expected = idf * 1 / (1 + K1 * (1 - B + B * lengths["c1"] / avgdl))
    assert [s.pk for s in found] == ["c1"]
    assert found[0].score == pytest.approx(expected, rel=1e-5)


def test_building_an_index_prints_no_bm25s_debug_lines(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level("DEBUG"):
        _index(TEXTS).bm25("effusion", 5)
    assert not [r for r in caplog.records if r.name.startswith("bm25s")], caplog.text


def test_bm25_stems_drops_stop_words_and_ignores_unknown_words() -> None:
    index = _index(TEXTS)
    assert [s.pk for s in index.bm25("PLEURAL Effusion", 5)] == ["c1", "c2"]
    assert index.bm25("the is a on", 5) == []
    assert index.bm25("gadolinium", 5) == []


def test_dense_is_an_exact_scan_and_scopes_narrow_both_lists() -> None:
    index = _index(TEXTS)
    query = np.array([1.0, 0.5, -0.2, 0.1], dtype=np.float32)
    rng = np.random.default_rng(0)
    vectors = np.stack([rng.standard_normal(4) for _ in TEXTS]).astype(np.float32)
    expected = [list(TEXTS)[i] for i in np.argsort(-(vectors @ query))]
    assert [s.pk for s in index.dense(query, 3)] == expected
    assert np.allclose(index.dense(query, 1)[0].vector, vectors[np.argmax(vectors @ query)])
    assert {s.pk for s in index.dense(query, 3, collection="notes")} == {"c3"}
    assert [s.pk for s in index.bm25("pleural", 5, sources=["c2.md"])] == ["c2"]
    assert index.bm25("pleural", 5, collection="guides", sources=["c3.md"]) == []


def test_an_empty_tenant_finds_nothing() -> None:
    index = LocalIndex.build([], 4)
    assert index.bm25("effusion", 5) == []
    assert index.dense(np.ones(4, dtype=np.float32), 5) == []


def test_a_build_that_overlaps_a_write_is_used_once_and_not_kept() -> None:
    cache = LocalIndexCache()
    builds: list[int] = []

    def build_racing_a_write() -> LocalIndex:
        builds.append(1)
        if len(builds) == 1:
            cache.invalidate("k")  # a write lands while the first build reads the store
        return _index(TEXTS)

    cache.get("k", build_racing_a_write)
    cache.get("k", build_racing_a_write)
    cache.get("k", build_racing_a_write)
    assert len(builds) == 2


def test_concurrent_first_queries_share_one_build() -> None:
    cache = LocalIndexCache()
    builds: list[int] = []
    started = threading.Event()

    def slow_build() -> LocalIndex:
        builds.append(1)
        started.set()
        time.sleep(0.2)  # the other threads arrive while this build runs
        return _index(TEXTS)

    seen: list[LocalIndex] = []
    threads = [
        threading.Thread(target=lambda: seen.append(cache.get("k", slow_build))) for _ in range(8)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert started.is_set() and len(builds) == 1
    assert len({id(i) for i in seen}) == 1 and seen[0].bm25("effusion", 1)


def test_every_write_through_any_store_on_the_file_reaches_the_next_search(
    tmp_path: Path,
) -> None:
    writer = ChunkStore(str(tmp_path / "rag.db"))
    reader = ChunkStore(str(tmp_path / "rag.db"))
    assert writer.local_search and reader.local_search
    retriever = HybridRetriever(reader, embedder(), mode="bm25")
    note = tmp_path / "note.md"
    note.write_text("# Note\n\nThe gadolinium rule is new.\n", encoding="utf-8")
    assert retriever.search("gadolinium", "t1").chunks == []
    ingest(writer, [note], "t1", "demo")
    assert [c.chunk.source for c in retriever.search("gadolinium", "t1").chunks] == ["note.md"]
    note.write_text("# Note\n\nThe iodine rule replaced it.\n", encoding="utf-8")
    ingest(writer, [note], "t1", "demo")
    assert retriever.search("gadolinium", "t1").chunks == []
    assert [c.chunk.body for c in retriever.search("iodine", "t1").chunks] == [
        "The iodine rule replaced it."
    ]
    writer.delete_source("t1", "demo", "note.md")
    assert retriever.search("iodine", "t1").chunks == []
    writer.close()
    reader.close()


def test_local_and_milvus_search_agree_on_real_documents(tmp_path: Path) -> None:
    local = ChunkStore(str(tmp_path / "rag.db"))
    ingest(local, [DEMO_CORPUS], "t1", "demo")
    milvus = ChunkStore(str(tmp_path / "rag.db"), search_backend="milvus")
    vector = embedder().embed(["contrast reaction adrenaline dose"])[0]
    dense_local = [h.chunk.chunk_id for h in local.dense_search("t1", vector, 5)]
    dense_milvus = [h.chunk.chunk_id for h in milvus.dense_search("t1", vector, 5)]
    assert dense_local == dense_milvus
    for query in ("adrenaline dose", "silhouette sign of the heart border", "tube position"):
        bm25_local = {h.chunk.chunk_id for h in local.bm25_search("t1", query, 5)}
        bm25_milvus = {h.chunk.chunk_id for h in milvus.bm25_search("t1", query, 5)}
        assert bm25_local and len(bm25_local & bm25_milvus) >= min(len(bm25_milvus), 3) - 1
    local.close()
    milvus.close()


def test_a_saved_index_is_loaded_after_a_restart_and_rebuilt_when_it_no_longer_fits(
    tmp_path: Path,
) -> None:
    snapshot = tmp_path / "t1"
    builds: list[int] = []

    def build() -> LocalIndex:
        builds.append(1)
        return _index(TEXTS)

    LocalIndexCache().get("k", build, snapshot)
    assert (snapshot / "rows.json").is_file() and len(builds) == 1
    restarted = LocalIndexCache().get("k", build, snapshot)  # a new process: a new cache
    assert len(builds) == 1 and [s.pk for s in restarted.bm25("effusion", 5)] == ["c1"]
    LocalIndexCache().get("k", build, snapshot, valid=lambda index: len(index) == 4)
    assert len(builds) == 2


def test_a_write_deletes_the_snapshot_and_an_overlapping_build_saves_none(tmp_path: Path) -> None:
    snapshot = tmp_path / "t1"
    cache = LocalIndexCache()
    cache.get("k", lambda: _index(TEXTS), snapshot)
    cache.invalidate("k", snapshot)
    assert not snapshot.exists()

    def build_racing_a_write() -> LocalIndex:
        cache.invalidate("k", snapshot)
        return _index(TEXTS)

    cache.get("k", build_racing_a_write, snapshot)
    assert not snapshot.exists() and list(tmp_path.iterdir()) == []


def test_a_store_reopened_in_a_new_process_searches_from_its_snapshot(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = ChunkStore(str(tmp_path / "rag.db"))
    ingest(store, [DEMO_CORPUS], "t1", "demo")
    first = [h.chunk.chunk_id for h in store.bm25_search("t1", "adrenaline dose", 5)]
    assert list((tmp_path / "rag.db.search" / DEFAULT_COLLECTION).iterdir())
    monkeypatch.setattr(store_module, "_LOCAL", LocalIndexCache())  # what a restart leaves

    def no_row_scan(*args: object) -> None:
        raise AssertionError("the restarted store re-read every row instead of its snapshot")

    monkeypatch.setattr(store, "_rows", no_row_scan)
    assert [h.chunk.chunk_id for h in store.bm25_search("t1", "adrenaline dose", 5)] == first
    store.close()


def test_a_stale_snapshot_is_rebuilt_and_another_tenants_write_keeps_a_valid_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = ChunkStore(str(tmp_path / "rag.db"))
    ingest(store, [DEMO_CORPUS], "t1", "demo")
    store.bm25_search("t1", "adrenaline", 5)
    snapshot = store.snapshot_path("t1")
    assert snapshot is not None
    shutil.copytree(snapshot, tmp_path / "old")
    note = tmp_path / "note.md"
    note.write_text("# Note\n\nThe gadolinium rule is new.\n", encoding="utf-8")
    ingest(store, [note], "t1", "demo")
    assert not snapshot.exists()  # the write deleted it
    store.bm25_search("t1", "gadolinium", 5)
    shutil.rmtree(snapshot)
    shutil.copytree(tmp_path / "old", snapshot)  # an out-of-date copy put back behind our back
    monkeypatch.setattr(store_module, "_LOCAL", LocalIndexCache())
    assert [h.chunk.source for h in store.bm25_search("t1", "gadolinium", 5)] == ["note.md"]

    other = tmp_path / "other.md"
    other.write_text("# Other\n\nTenant two's own protocol.\n", encoding="utf-8")
    ingest(store, [other], "t2", "demo")  # changes the collection's row count, not t1's rows
    monkeypatch.setattr(store_module, "_LOCAL", LocalIndexCache())

    def no_row_scan(*args: object) -> None:
        raise AssertionError("t1's valid snapshot was rebuilt")

    monkeypatch.setattr(store, "_rows", no_row_scan)
    assert [h.chunk.source for h in store.bm25_search("t1", "gadolinium", 5)] == ["note.md"]
    store.close()
