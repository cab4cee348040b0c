"""Chunking: sections and pages are boundaries, sizes and overlap, whole tables, stable ids."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from state.errors import ConfigError
from tests.tools.rag.corpus import DEMO_CORPUS
from tools.rag.chunking import chunk_document
from tools.rag.citations import citation_label
from tools.rag.loaders import Block, LoadedDocument, load_document


def _doc(blocks: list[Block]) -> LoadedDocument:
    return LoadedDocument(Path("x.md"), "Title", "markdown", blocks)


def test_chunks_never_cross_sections_or_pages() -> None:
    doc = _doc([
        Block("Alpha text.", "text", ("A",), 1),
        Block("More alpha.", "text", ("A",), 1),
        Block("Alpha on page two.", "text", ("A",), 2),
        Block("Beta text.", "text", ("B",), 2),
    ])  # fmt: skip
    chunks = chunk_document(doc, source="x.md", collection="c")
    assert [(c.page, c.section, c.body) for c in chunks] == [
        (1, ("A",), "Alpha text.\nMore alpha."),
        (2, ("A",), "Alpha on page two."),
        (2, ("B",), "Beta text."),
    ]


def test_long_paragraphs_split_at_sentences_with_overlap() -> None:
    sentences = [f"Sentence number {i} talks about the pleura." for i in range(40)]
    chunks = chunk_document(
        _doc([Block(" ".join(sentences), "text", ("S",))]),
        source="x.md", collection="c", target_chars=300, overlap_chars=80,
    )  # fmt: skip
    assert len(chunks) > 4
    assert all(len(c.body) <= 300 for c in chunks)
    for previous, current in itertools.pairwise(chunks):
        assert previous.body.split(". ")[-1].rstrip(".") in current.body  # overlap carried
    assert [c.ordinal for c in chunks] == list(range(len(chunks)))


def test_tables_stay_whole_even_when_larger_than_the_target() -> None:
    table = "\n".join(f"| row {i} | value {i} |" for i in range(50))
    chunks = chunk_document(
        _doc([Block("Intro.", "text", ("T",)), Block(table, "table", ("T",))]),
        source="x.md", collection="c", target_chars=200, overlap_chars=20,
    )  # fmt: skip
    assert [c.body for c in chunks] == ["Intro.", table]


def test_ids_are_stable_across_runs_and_differ_by_collection() -> None:
    doc = load_document(DEMO_CORPUS / "chest_radiograph_guide.md")
    first = chunk_document(doc, source="guide.md", collection="demo")
    again = chunk_document(load_document(DEMO_CORPUS / "chest_radiograph_guide.md"),
                           source="guide.md", collection="demo")  # fmt: skip
    other = chunk_document(doc, source="guide.md", collection="other")
    assert [c.chunk_id for c in first] == [c.chunk_id for c in again]
    assert len({c.chunk_id for c in first}) == len(first)
    assert not {c.chunk_id for c in first} & {c.chunk_id for c in other}


def test_citation_labels_name_file_page_and_section() -> None:
    assert citation_label("dir/guide.pdf", 3, ("Guide", "2.1 Heart size")) == (
        "[guide.pdf p.3 §2.1 Heart size]"
    )
    assert citation_label("notes.md", None, ("Notes", "Contrast")) == "[notes.md §Contrast]"
    assert citation_label("a.txt", None, ()) == "[a.txt]"


def test_rejects_nonsense_sizes() -> None:
    with pytest.raises(ConfigError):
        chunk_document(_doc([Block("x", "text", ())]), source="x", collection="c",
                       target_chars=200, overlap_chars=150)  # fmt: skip
