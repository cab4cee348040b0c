"""Cut a loaded document into structure-aware chunks with stable ids and citation metadata.

Usage:
    chunks = chunk_document(doc, source="guide.md", collection="demo", target_chars=900)

Rules: a chunk never crosses a section (heading path) or a page; paragraphs are packed up to
`target_chars`; a paragraph longer than that is split at sentence ends with `overlap_chars` of
overlap; a table is always one whole chunk. The chunk id is derived from the collection, the
source, the page, the section path and the chunk's ordinal within that (page, section), so
re-ingesting an unchanged document gives the same ids.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from state.errors import ConfigError
from tools.rag.loaders import Block, LoadedDocument

_SENTENCE_END = re.compile(r"(?<=[.!?;:])\s+")


@dataclass(frozen=True)
class Chunk:
    """One retrievable piece of a document and everything needed to cite it."""

    chunk_id: str
    collection: str
    source: str  # the source key: path relative to the ingested root
    title: str
    page: int | None
    section: tuple[str, ...]
    ordinal: int  # position within its (page, section)
    body: str  # the chunk's own text
    content_hash: str

    @property
    def text(self) -> str:
        """What is embedded and BM25-indexed: title and section path, then the body."""
        heading = " > ".join(self.section)
        return f"{self.title}\n{heading}\n{self.body}" if heading else f"{self.title}\n{self.body}"


def chunk_id(
    collection: str, source: str, page: int | None, section: tuple[str, ...], ordinal: int
) -> str:
    """The stable id of a chunk: 16 hex digits of a hash over where it sits."""
    key = "\x1f".join([collection, source, str(page or 0), "\x1e".join(section), str(ordinal)])
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]


def _split_long(text: str, target: int, overlap: int) -> list[str]:
    """Split text at sentence ends into pieces of about `target` chars, overlapping."""
    sentences = [s for s in _SENTENCE_END.split(text) if s]
    pieces: list[str] = []
    current: list[str] = []
    for sentence in sentences:
        if current and len(" ".join([*current, sentence])) > target:
            pieces.append(" ".join(current))
            carried: list[str] = []
            for previous in reversed(current):
                if len(" ".join([previous, *carried])) > overlap:
                    break
                carried.insert(0, previous)
            current = carried
        current.append(sentence)
    if current:
        pieces.append(" ".join(current))
    return [p[i : i + target * 2] for p in pieces for i in range(0, len(p), target * 2)]


def _groups(blocks: list[Block]) -> list[tuple[int | None, tuple[str, ...], list[Block]]]:
    """Consecutive non-heading blocks sharing a page and a section."""
    groups: list[tuple[int | None, tuple[str, ...], list[Block]]] = []
    for block in blocks:
        if block.kind == "heading":
            continue
        if groups and groups[-1][0] == block.page and groups[-1][1] == block.section:
            groups[-1][2].append(block)
        else:
            groups.append((block.page, block.section, [block]))
    return groups


def _pack(blocks: list[Block], target: int, overlap: int) -> list[str]:
    """Pack blocks of one (page, section) into chunk bodies."""
    bodies: list[str] = []
    current: list[str] = []

    def flush() -> None:
        if current:
            bodies.append("\n".join(current))
            current.clear()

    for block in blocks:
        if block.kind == "table":
            flush()
            bodies.append(block.text)
            continue
        if len(block.text) > target:
            flush()
            bodies.extend(_split_long(block.text, target, overlap))
            continue
        if current and len("\n".join([*current, block.text])) > target:
            flush()
        current.append(block.text)
    flush()
    return bodies


def chunk_document(
    doc: LoadedDocument,
    *,
    source: str,
    collection: str,
    target_chars: int = 900,
    overlap_chars: int = 150,
) -> list[Chunk]:
    """Chunks of `doc`, in document order."""
    if target_chars < 100 or not 0 <= overlap_chars < target_chars // 2:
        raise ConfigError(
            f"chunking needs target_chars >= 100 and 0 <= overlap < target/2, "
            f"got {target_chars} and {overlap_chars}"
        )
    chunks: list[Chunk] = []
    ordinals: dict[tuple[int | None, tuple[str, ...]], int] = {}
    for page, section, blocks in _groups(doc.blocks):
        for body in _pack(blocks, target_chars, overlap_chars):
            ordinal = ordinals.get((page, section), 0)
            ordinals[(page, section)] = ordinal + 1
            chunks.append(
                Chunk(
                    chunk_id=chunk_id(collection, source, page, section, ordinal),
                    collection=collection,
                    source=source,
                    title=doc.title,
                    page=page,
                    section=section,
                    ordinal=ordinal,
                    body=body,
                    content_hash=hashlib.sha256(body.encode("utf-8")).hexdigest()[:16],
                )
            )
    return chunks
