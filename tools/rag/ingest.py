"""Ingest files, directories and globs into the chunk store: idempotent, per-file errors, progress.

Usage:
    ingestor = Ingestor(store, embedder)
    report = ingestor.ingest(["docs/", "notes/*.md"], tenant_id="acme", collection="demo")
    console.print(summary_table(report))

Each file's source key is its path relative to the argument that found it (a directory, or a
glob's fixed prefix); a file named directly is keyed by its name. A file whose bytes (and the
chunking parameters) are unchanged is skipped; a changed file's old chunks are replaced. A file
that cannot be read, parsed or is empty is reported as failed, and the others still ingest.
"""

from __future__ import annotations

import glob
import hashlib
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from state.errors import InputError
from tools.rag.chunking import chunk_document
from tools.rag.hybrid_search import Embedder
from tools.rag.loaders import SUPPORTED_SUFFIXES, load_document
from tools.rag.store import ChunkStore

log = logging.getLogger(__name__)

Status = Literal["added", "replaced", "unchanged", "failed"]


@dataclass(frozen=True)
class FileOutcome:
    """What happened to one file."""

    path: str
    source: str
    status: Status
    chunks: int = 0
    pages: int = 0
    ocr_pages: int = 0
    error: str | None = None


@dataclass(frozen=True)
class IngestReport:
    """Every file's outcome, and totals."""

    collection: str
    outcomes: list[FileOutcome]

    def count(self, status: Status) -> int:
        """Files with this status."""
        return sum(1 for o in self.outcomes if o.status == status)

    @property
    def chunks_written(self) -> int:
        """Chunks inserted by this run."""
        return sum(o.chunks for o in self.outcomes if o.status in ("added", "replaced"))

    @property
    def failed(self) -> list[FileOutcome]:
        """The files that could not be ingested."""
        return [o for o in self.outcomes if o.status == "failed"]


@dataclass(frozen=True)
class Candidate:
    """A file found by an argument, with its source key, or why the argument found nothing."""

    path: Path
    source: str
    error: str | None = None


def _glob_root(pattern: str) -> Path:
    parts = Path(pattern).parts
    fixed = parts[: next(i for i, p in enumerate(parts) if glob.has_magic(p))]
    return Path(*fixed) if fixed else Path()


def discover(paths: Sequence[str]) -> Iterator[Candidate]:
    """The files named by paths, directories (recursive, supported types) and globs."""
    for arg in paths:
        if glob.has_magic(arg):
            root = _glob_root(arg)
            matches = sorted(Path(p) for p in glob.glob(arg, recursive=True))
            files = [p for p in matches if p.is_file()]
            if not files:
                yield Candidate(Path(arg), arg, "the pattern matched no files")
            for file in files:
                yield Candidate(file, file.relative_to(root).as_posix())
            continue
        path = Path(arg)
        if path.is_dir():
            try:
                files = sorted(
                    p
                    for p in path.rglob("*")
                    if p.is_file() and p.suffix.lower() in SUPPORTED_SUFFIXES
                )
            except OSError as exc:
                yield Candidate(path, path.name, f"cannot list the directory ({exc.strerror})")
                continue
            if not files:
                yield Candidate(path, path.name, "the directory holds no supported files")
            for file in files:
                yield Candidate(file, file.relative_to(path).as_posix())
        elif path.exists():
            yield Candidate(path, path.name)
        else:
            yield Candidate(path, path.name, "no such file or directory")


def file_hash(path: Path, params: str) -> str:
    """SHA-256 of the file's bytes and the chunking parameters."""
    digest = hashlib.sha256(params.encode("utf-8"))
    try:
        with path.open("rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    return digest.hexdigest()


class Ingestor:
    """Loads, chunks, embeds and stores files for one tenant and collection."""

    def __init__(
        self,
        store: ChunkStore,
        embedder: Embedder,
        *,
        target_chars: int = 900,
        overlap_chars: int = 150,
        batch_size: int = 32,
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.target_chars = target_chars
        self.overlap_chars = overlap_chars
        self.batch_size = batch_size

    def ingest(
        self,
        paths: Sequence[str],
        *,
        tenant_id: str,
        collection: str = "default",
        console: Console | None = None,
    ) -> IngestReport:
        """Ingest every file found; `console` shows progress over files, pages and chunks."""
        candidates = list(discover(paths))
        known = self.store.file_hashes(tenant_id, collection)
        outcomes: list[FileOutcome] = []
        with Progress(
            TextColumn("{task.description:>7}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            disable=console is None,
            transient=False,
        ) as progress:
            files = progress.add_task("files", total=len(candidates))
            pages = progress.add_task("pages", total=None)
            chunks = progress.add_task("chunks", total=None)
            for candidate in candidates:
                outcome = self._one(candidate, tenant_id, collection, known, progress, chunks)
                outcomes.append(outcome)
                progress.update(pages, advance=outcome.pages, total=sum(o.pages for o in outcomes))
                progress.advance(files)
        report = IngestReport(collection, outcomes)
        if report.chunks_written:
            self.store.flush()
        return report

    def _one(
        self,
        candidate: Candidate,
        tenant_id: str,
        collection: str,
        known: dict[str, str],
        progress: Progress,
        chunk_task: int,
    ) -> FileOutcome:
        path, source = str(candidate.path), candidate.source
        if candidate.error is not None:
            return FileOutcome(path, source, "failed", error=candidate.error)
        try:
            digest = file_hash(candidate.path, f"{self.target_chars}:{self.overlap_chars}")
            if known.get(source) == digest:
                return FileOutcome(path, source, "unchanged")
            doc = load_document(candidate.path)
            chunks = chunk_document(
                doc,
                source=source,
                collection=collection,
                target_chars=self.target_chars,
                overlap_chars=self.overlap_chars,
            )
            progress.update(chunk_task, total=(progress.tasks[chunk_task].total or 0) + len(chunks))
            vectors = []
            for start in range(0, len(chunks), self.batch_size):
                batch = chunks[start : start + self.batch_size]
                vectors.append(self.embedder.embed([c.text for c in batch]))
                progress.advance(chunk_task, len(batch))
            written = self.store.replace_source(
                tenant_id, chunks, np.concatenate(vectors), file_hash=digest
            )
        except InputError as exc:
            log.warning("ingest_failed source=%s reason=%s", source, exc.__class__.__name__)
            return FileOutcome(path, source, "failed", error=str(exc))
        status: Status = "replaced" if source in known else "added"
        known[source] = digest
        return FileOutcome(path, source, status, written, max(doc.pages, 1), doc.ocr_pages)


def summary_table(report: IngestReport) -> Table:
    """A rich table: one row per file, then totals."""
    table = Table(title=f"Ingested into collection {report.collection!r}")
    for column in ("source", "status", "pages", "OCR", "chunks", "error"):
        table.add_column(column, overflow="fold")
    for o in report.outcomes:
        style = {"failed": "red", "unchanged": "dim"}.get(o.status, "")
        table.add_row(
            o.source, o.status, str(o.pages), str(o.ocr_pages), str(o.chunks), o.error or "",
            style=style,
        )  # fmt: skip
    table.caption = (
        f"{report.count('added')} added, {report.count('replaced')} replaced, "
        f"{report.count('unchanged')} unchanged, {report.count('failed')} failed; "
        f"{report.chunks_written} chunks written"
    )
    return table
