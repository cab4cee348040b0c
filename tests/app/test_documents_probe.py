"""The routing probe on a real Milvus Lite store and the real MiniLM embedder: a question the
user's own documents answer matches, an unrelated one, another tenant and a bad tenant id do not."""

from __future__ import annotations

from pathlib import Path

from app.runtime import documents_probe
from tests.tools.rag.corpus import embedder, ingest
from tools.rag.hybrid_search import HybridRetriever
from tools.rag.store import ChunkStore

HANDBOOK = """# Ward handbook

## Contrast allergy
Patients with a prior contrast reaction must receive premedication with prednisone 50 mg at 13,
7 and 1 hour before the scan.

## Portable films
Portable chest films are taken in the AP projection; heart size cannot be judged reliably on AP
films.
"""
PREMEDICATION = "What premedication do patients with a prior contrast reaction need?"


def test_a_question_matches_only_the_tenant_whose_documents_answer_it(tmp_path: Path) -> None:
    (tmp_path / "handbook.md").write_text(HANDBOOK)
    store = ChunkStore(str(tmp_path / "rag.db"))
    try:
        ingest(store, [tmp_path / "handbook.md"], "clinic-a", "default")
        retriever = HybridRetriever(store, embedder())
        assert retriever.best_similarity(PREMEDICATION, "clinic-a") > 0.6
        assert retriever.best_similarity(PREMEDICATION, "clinic-b") == 0.0
        matches = documents_probe(retriever, threshold=0.6)
        assert matches("clinic-a", PREMEDICATION)
        assert matches("clinic-a", "Is heart size reliable on an AP film?")
        assert not matches("clinic-a", "What is the silhouette sign?")
        assert not matches("clinic-a", "What is the dose of heparin for DVT prophylaxis?")
        assert not matches("clinic-b", PREMEDICATION)
        assert not matches("", PREMEDICATION)  # a bad tenant id is no match, not an error
    finally:
        store.close()
