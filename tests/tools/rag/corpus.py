"""Small real things for RAG tests: the MiniLM embedder (once), generated PDFs, a demo store."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import pymupdf

from tools.models.embedder import MiniLMEmbedder
from tools.rag.ingest import Ingestor, IngestReport
from tools.rag.store import ChunkStore

DEMO_CORPUS = Path(__file__).resolve().parents[3] / "tools" / "rag" / "demo_corpus"


@lru_cache(maxsize=1)
def embedder() -> MiniLMEmbedder:
    """The real MiniLM embedder (int8, CPU), loaded once per test process."""
    return MiniLMEmbedder.load("cpu")


def write_pdf(path: Path, pages: list[list[tuple[str, float]]], *, scanned: bool = False) -> Path:
    """A PDF whose pages hold (text, font size) lines; `scanned` keeps only page images."""
    doc = pymupdf.open()
    for lines in pages:
        page = doc.new_page(width=595, height=842)
        y = 60.0
        for text, size in lines:
            rect = pymupdf.Rect(56, y, 540, y + 400)
            spare = page.insert_textbox(rect, text, fontsize=size)
            y += 400 - spare + size
    if scanned:
        images = pymupdf.open()
        for page in doc:
            target = images.new_page(width=page.rect.width, height=page.rect.height)
            target.insert_image(target.rect, pixmap=page.get_pixmap(dpi=150))
        doc.close()
        doc = images
    doc.save(path)
    doc.close()
    return path


def ingest(store: ChunkStore, paths: list[Path], tenant: str, collection: str) -> IngestReport:
    """Ingest paths with the real embedder."""
    return Ingestor(store, embedder()).ingest(
        [str(p) for p in paths], tenant_id=tenant, collection=collection
    )
