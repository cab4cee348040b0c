"""Ingestion into Milvus Lite: idempotent re-ingest, replacement, delete, tenants, bad files."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.tools.rag.corpus import DEMO_CORPUS, embedder, ingest, write_pdf
from tools.rag.hybrid_search import HybridRetriever, SearchFilters
from tools.rag.store import ChunkStore


@pytest.fixture
def store(tmp_path: Path):
    store = ChunkStore(str(tmp_path / "rag.db"))
    yield store
    store.close()


@pytest.fixture(params=["local", "milvus"])
def searchable(tmp_path: Path, request: pytest.FixtureRequest):
    """A store on each search path: the in-process index and Milvus Lite's own search."""
    store = ChunkStore(str(tmp_path / "rag.db"), search_backend=request.param)
    yield store
    store.close()


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    folder = tmp_path / "corpus"
    shutil.copytree(DEMO_CORPUS, folder)
    return folder


def test_reingesting_unchanged_files_adds_nothing(store: ChunkStore, corpus: Path) -> None:
    first = ingest(store, [corpus], "t1", "demo")
    count = store.count("t1")
    ids = {c.chunk_id for c in store.chunks("t1")}
    second = ingest(store, [corpus], "t1", "demo")
    assert first.count("added") == 2 and first.chunks_written == count > 30
    assert second.count("unchanged") == 2 and second.chunks_written == 0
    assert store.count("t1") == count and {c.chunk_id for c in store.chunks("t1")} == ids


def test_a_changed_file_replaces_its_old_chunks(store: ChunkStore, tmp_path: Path) -> None:
    path = tmp_path / "notes.md"
    path.write_text("# Notes\n\n## Old\n\nThe old rule about gadolinium.\n", encoding="utf-8")
    ingest(store, [path], "t1", "demo")
    path.write_text("# Notes\n\n## New\n\nThe new rule about iodine.\n", encoding="utf-8")
    report = ingest(store, [path], "t1", "demo")
    assert report.count("replaced") == 1
    bodies = [c.body for c in store.chunks("t1")]
    assert bodies == ["The new rule about iodine."]


def test_delete_source_and_collection(store: ChunkStore, corpus: Path, tmp_path: Path) -> None:
    ingest(store, [corpus], "t1", "demo")
    other = tmp_path / "other.txt"
    other.write_text("Other collection text about scanners.", encoding="utf-8")
    ingest(store, [other], "t1", "misc")
    assert store.delete_source("t1", "demo", "imaging_protocol_notes.html") > 5
    assert [s.source for s in store.sources("t1", "demo")] == ["chest_radiograph_guide.md"]
    assert store.delete_collection("t1", "demo") > 20
    assert [(s.collection, s.source) for s in store.sources("t1")] == [("misc", "other.txt")]


def test_a_tenant_never_sees_another_tenants_chunks(searchable: ChunkStore, tmp_path: Path) -> None:
    store = searchable
    a = tmp_path / "a.md"
    a.write_text("# A\n\nTenant A keeps the pleural effusion protocol.\n", encoding="utf-8")
    b = tmp_path / "b.md"
    b.write_text("# B\n\nTenant B keeps the pneumothorax protocol.\n", encoding="utf-8")
    ingest(store, [a], "tenant-a", "demo")
    ingest(store, [b], "tenant-b", "demo")
    retriever = HybridRetriever(store, embedder())
    for mode in ("hybrid", "dense", "bm25"):
        retriever.mode = mode
        found = retriever.search("pneumothorax protocol", "tenant-a", k=10).chunks
        assert {c.chunk.source for c in found} == {"a.md"}
    assert [s.source for s in store.sources("tenant-b")] == ["b.md"]
    assert store.delete_source("tenant-a", "demo", "b.md") == 0
    assert store.count("tenant-b") == 1


def test_bad_files_fail_alone_and_the_others_ingest(store: ChunkStore, tmp_path: Path) -> None:
    folder = tmp_path / "mixed"
    folder.mkdir()
    write_pdf(folder / "good.pdf", [[("Good PDF", 18), ("Chest drains point to the apex.", 11)]])
    (folder / "corrupt.pdf").write_bytes(b"%PDF-1.4 garbage")
    (folder / "empty.md").write_bytes(b"")
    (folder / "good.md").write_text("# Good\n\nKerley B lines are short.\n", encoding="utf-8")
    unsupported = tmp_path / "table.xlsx"
    unsupported.write_bytes(b"PK")
    report = ingest(store, [folder, unsupported, tmp_path / "nope"], "t1", "demo")
    status = {o.source: o.status for o in report.outcomes}
    assert status == {
        "corrupt.pdf": "failed", "empty.md": "failed", "good.md": "added", "good.pdf": "added",
        "table.xlsx": "failed", "nope": "failed",
    }  # fmt: skip
    assert {s.source for s in store.sources("t1")} == {"good.md", "good.pdf"}
    assert all(o.error for o in report.failed)


def test_glob_sources_are_relative_to_the_glob_root(store: ChunkStore, corpus: Path) -> None:
    report = ingest(store, [corpus / "*.md"], "t1", "demo")
    assert [o.source for o in report.outcomes] == ["chest_radiograph_guide.md"]


def test_metadata_filters_narrow_search(
    searchable: ChunkStore, corpus: Path, tmp_path: Path
) -> None:
    store = searchable
    ingest(store, [corpus], "t1", "demo")
    extra = tmp_path / "extra.md"
    extra.write_text("# Extra\n\nThe pleural effusion drill happens on Fridays.\n", "utf-8")
    ingest(store, [extra], "t1", "drills")
    retriever = HybridRetriever(store, embedder())
    only_drills = retriever.search("pleural effusion", "t1", filters=SearchFilters("drills"))
    assert {c.chunk.source for c in only_drills.chunks} == {"extra.md"}
    only_html = retriever.search(
        "pleural effusion", "t1",
        filters=SearchFilters(sources=("imaging_protocol_notes.html",)),
    )  # fmt: skip
    assert {c.chunk.source for c in only_html.chunks} == {"imaging_protocol_notes.html"}


def test_creating_a_new_local_store_logs_no_grpc_error(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level("WARNING"):
        store = ChunkStore(str(tmp_path / "fresh.db"))
    store.close()
    assert not [r for r in caplog.records if r.levelname == "ERROR"], caplog.text
