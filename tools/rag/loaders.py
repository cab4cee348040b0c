"""Read one document file (PDF, scanned PDF via OCR, Markdown, HTML, text) into structured blocks.

Usage:
    doc = load_document(Path("guide.pdf"))
    for block in doc.blocks:
        print(block.page, block.section, block.kind, len(block.text))

Every loader returns the same `LoadedDocument`: a title and an ordered list of `Block`s, each
with its page (PDF only), the heading path it sits under, and whether it is prose, a heading
or a table. Problems with one file raise `InputError` with a message naming the file.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pymupdf
from bs4 import BeautifulSoup, Tag
from markdown_it import MarkdownIt
from markdown_it.token import Token

from state.errors import InputError

BlockKind = Literal["text", "heading", "table"]
SUPPORTED_SUFFIXES = (".pdf", ".md", ".markdown", ".html", ".htm", ".txt", ".text")
OCR_MIN_TEXT_CHARS = 20  # a PDF page with less extractable text than this is OCR'd
OCR_DPI = 200
_HEADING_SIZE_RATIO = 1.15  # a short PDF line this much larger than body text is a heading
_MAX_HEADING_CHARS = 120
_SKIPPED_HTML = ("script", "style", "nav", "header", "footer", "aside", "noscript", "form")
_HTML_BLOCKS = ("h1", "h2", "h3", "h4", "h5", "h6", "p", "li", "table", "pre", "blockquote", "dd")


@dataclass(frozen=True)
class Block:
    """One piece of a document: prose, a heading or a whole table, with where it sits."""

    text: str
    kind: BlockKind
    section: tuple[str, ...]  # heading path, outermost first; a heading block includes itself
    page: int | None = None  # 1-based page number for PDFs


@dataclass(frozen=True)
class LoadedDocument:
    """A loaded file: its title, kind, blocks, and how many pages were read (and OCR'd)."""

    path: Path
    title: str
    kind: str
    blocks: list[Block]
    pages: int = 0
    ocr_pages: int = 0


class _SectionTracker:
    """Keeps the current heading path as headings of various levels arrive."""

    def __init__(self) -> None:
        self._stack: list[tuple[int, str]] = []

    def enter(self, level: int, title: str) -> tuple[str, ...]:
        while self._stack and self._stack[-1][0] >= level:
            self._stack.pop()
        self._stack.append((level, title))
        return self.path

    @property
    def path(self) -> tuple[str, ...]:
        return tuple(t for _, t in self._stack)


def _clean(text: str) -> str:
    return re.sub(r"[ \t\u00a0]+", " ", text).strip()


def _read_text(path: Path) -> str:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    if not raw.strip():
        raise InputError(f"{path}: the file is empty")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text") from exc


def _first_heading(blocks: list[Block]) -> str | None:
    return next((b.text for b in blocks if b.kind == "heading"), None)


def _check_not_empty(path: Path, blocks: list[Block]) -> list[Block]:
    if not any(b.kind != "heading" and b.text for b in blocks):
        raise InputError(f"{path}: no text found")
    return blocks


# --- Markdown -----------------------------------------------------------------------------


def _md_table(tokens: list[Token], start: int) -> tuple[str, int]:
    """Render a markdown-it table as pipe rows; return the text and the index after it."""
    rows: list[list[str]] = []
    i = start
    while tokens[i].type != "table_close":
        token = tokens[i]
        if token.type == "tr_open":
            rows.append([])
        elif token.type == "inline" and rows:
            rows[-1].append(_clean(token.content))
        i += 1
    return "\n".join("| " + " | ".join(r) + " |" for r in rows), i + 1


def load_markdown(path: Path) -> LoadedDocument:
    """Headings become the section path; paragraphs, list items, code and tables are blocks."""
    tokens = MarkdownIt("commonmark").enable("table").parse(_read_text(path))
    sections = _SectionTracker()
    blocks: list[Block] = []
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if token.type == "heading_open":
            title = _clean(tokens[i + 1].content)
            blocks.append(Block(title, "heading", sections.enter(int(token.tag[1]), title)))
            i += 3
            continue
        if token.type == "table_open":
            table, i = _md_table(tokens, i)
            blocks.append(Block(table, "table", sections.path))
            continue
        if token.type == "inline" and token.content.strip():
            blocks.append(Block(_clean(token.content), "text", sections.path))
        elif token.type in ("fence", "code_block") and token.content.strip():
            blocks.append(Block(token.content.strip(), "text", sections.path))
        i += 1
    blocks = _check_not_empty(path, blocks)
    return LoadedDocument(path, _first_heading(blocks) or path.stem, "markdown", blocks)


# --- HTML ---------------------------------------------------------------------------------


def _html_table(table: Tag) -> str:
    rows = []
    for tr in table.find_all("tr"):
        cells = [_clean(c.get_text(" ")) for c in tr.find_all(["th", "td"])]
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)


def load_html(path: Path) -> LoadedDocument:
    """Main text only (no scripts, navigation, headers, footers); headings kept as sections."""
    soup = BeautifulSoup(_read_text(path), "lxml")
    for tag in soup.find_all(_SKIPPED_HTML):
        tag.decompose()
    root = soup.find("main") or soup.find("article") or soup.body or soup
    sections = _SectionTracker()
    blocks: list[Block] = []
    for tag in root.find_all(_HTML_BLOCKS):
        if tag.find_parent(["table", "li", "pre", "blockquote"]) is not None:
            continue  # nested inside a block that is emitted whole
        name = tag.name
        if name.startswith("h") and name[1:].isdigit():
            title = _clean(tag.get_text(" "))
            if title:
                blocks.append(Block(title, "heading", sections.enter(int(name[1]), title)))
        elif name == "table":
            blocks.append(Block(_html_table(tag), "table", sections.path))
        else:
            text = _clean(tag.get_text(" "))
            if text:
                blocks.append(Block(text, "text", sections.path))
    blocks = _check_not_empty(path, blocks)
    title_tag = soup.find("title")
    title = _clean(title_tag.get_text()) if title_tag else ""
    return LoadedDocument(path, title or _first_heading(blocks) or path.stem, "html", blocks)


# --- Plain text ---------------------------------------------------------------------------


def load_text(path: Path) -> LoadedDocument:
    """Paragraphs separated by blank lines; no sections."""
    paragraphs = [_clean(p.replace("\n", " ")) for p in re.split(r"\n\s*\n", _read_text(path))]
    blocks = [Block(p, "text", ()) for p in paragraphs if p]
    return LoadedDocument(path, path.stem, "text", _check_not_empty(path, blocks))


# --- PDF ----------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _ocr_engine() -> Callable[..., Any]:
    """RapidOCR with the ONNX models shipped in its wheel (loaded once, no downloads)."""
    from rapidocr_onnxruntime import RapidOCR

    return RapidOCR()


def ocr_image(image: np.ndarray) -> list[str]:
    """Text lines found in an RGB image [h, w, 3] uint8, top to bottom, left to right."""
    result, _ = _ocr_engine()(image)
    if not result:
        return []
    boxes = sorted(result, key=lambda r: (round(r[0][0][1] / 10), r[0][0][0]))
    return [_clean(str(r[1])) for r in boxes if str(r[1]).strip()]


def _ocr_page(page: pymupdf.Page) -> list[str]:
    pixmap = page.get_pixmap(dpi=OCR_DPI, colorspace=pymupdf.csRGB, alpha=False)
    image = np.frombuffer(pixmap.samples, dtype=np.uint8).reshape(pixmap.h, pixmap.w, 3)
    return ocr_image(image)


def _pdf_lines(page: pymupdf.Page) -> Iterator[tuple[str, float, bool]]:
    """(text, font size, is_block_start) for every text line of a page."""
    for block in page.get_text("dict")["blocks"]:
        if block.get("type") != 0:
            continue
        for n, line in enumerate(block["lines"]):
            spans = line["spans"]
            text = _clean("".join(s["text"] for s in spans))
            if text:
                yield text, max(s["size"] for s in spans), n == 0


def _open_pdf(path: Path) -> pymupdf.Document:
    try:
        doc = pymupdf.open(path)
    except (pymupdf.FileDataError, RuntimeError, ValueError) as exc:
        raise InputError(f"{path}: not a readable PDF ({exc})") from exc
    if doc.needs_pass:
        doc.close()
        raise InputError(f"{path}: the PDF is encrypted; decrypt it before ingesting")
    if doc.page_count == 0:
        doc.close()
        raise InputError(f"{path}: the PDF has no pages")
    return doc


def load_pdf(path: Path, *, ocr: bool = True) -> LoadedDocument:
    """Text layer per page; pages without one are OCR'd. Large short lines become headings."""
    if not path.is_file():
        raise InputError(f"{path}: cannot read (not a file)")
    if path.stat().st_size == 0:
        raise InputError(f"{path}: the file is empty")
    doc = _open_pdf(path)
    try:
        pages: list[list[tuple[str, float, bool]]] = []
        ocr_pages = 0
        for page in doc:
            lines = list(_pdf_lines(page))
            if ocr and sum(len(t) for t, _, _ in lines) < OCR_MIN_TEXT_CHARS:
                lines = [(t, 0.0, True) for t in _ocr_page(page)]
                ocr_pages += 1
            pages.append(lines)
        metadata_title = _clean((doc.metadata or {}).get("title") or "")
    finally:
        doc.close()
    blocks = _pdf_blocks(pages)
    blocks = _check_not_empty(path, blocks)
    title = metadata_title or _first_heading(blocks) or path.stem
    return LoadedDocument(path, title, "pdf", blocks, pages=len(pages), ocr_pages=ocr_pages)


def _pdf_blocks(pages: list[list[tuple[str, float, bool]]]) -> list[Block]:
    """Group PDF lines into paragraphs and headings, using font sizes relative to body text."""
    sizes: Counter[float] = Counter()
    for lines in pages:
        for text, size, _ in lines:
            sizes[round(size, 1)] += len(text)
    body = sizes.most_common(1)[0][0] if sizes else 0.0
    heading_sizes = sorted(
        {round(s, 1) for lines in pages for t, s, _ in lines if _is_pdf_heading(t, s, body)},
        reverse=True,
    )
    sections = _SectionTracker()
    blocks: list[Block] = []
    for page_no, lines in enumerate(pages, start=1):
        paragraph: list[str] = []
        for text, size, block_start in lines:
            heading = _is_pdf_heading(text, size, body)
            if paragraph and (heading or block_start):
                blocks.append(Block(" ".join(paragraph), "text", sections.path, page_no))
                paragraph = []
            if heading:
                level = heading_sizes.index(round(size, 1)) + 1
                blocks.append(Block(text, "heading", sections.enter(level, text), page_no))
            else:
                paragraph.append(text)
        if paragraph:
            blocks.append(Block(" ".join(paragraph), "text", sections.path, page_no))
    return blocks


def _is_pdf_heading(text: str, size: float, body: float) -> bool:
    return (
        body > 0
        and size >= body * _HEADING_SIZE_RATIO
        and len(text) <= _MAX_HEADING_CHARS
        and not text.endswith((".", ","))
    )


# --- Dispatch -----------------------------------------------------------------------------

_LOADERS: dict[str, Callable[[Path], LoadedDocument]] = {
    ".pdf": load_pdf,
    ".md": load_markdown,
    ".markdown": load_markdown,
    ".html": load_html,
    ".htm": load_html,
    ".txt": load_text,
    ".text": load_text,
}


def load_document(path: Path) -> LoadedDocument:
    """Load any supported file; unsupported types and unreadable paths raise `InputError`."""
    loader = _LOADERS.get(path.suffix.lower())
    if loader is None:
        raise InputError(
            f"{path}: unsupported file type {path.suffix or '(none)'!r}; "
            f"supported: {', '.join(SUPPORTED_SUFFIXES)}"
        )
    if not path.exists():
        raise InputError(f"{path}: no such file")
    return loader(path)
