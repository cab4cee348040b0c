"""Loaders: PDF text with pages and headings, OCR of scanned pages, Markdown, HTML, bad files."""

from __future__ import annotations

from pathlib import Path

import pymupdf
import pytest

from state.errors import InputError
from tests.tools.rag.corpus import DEMO_CORPUS, write_pdf
from tools.rag.loaders import load_document

GUIDE_PAGES = [
    [("Effusion Guide", 20), ("1. Pleural fluid", 14),
     ("A pleural effusion blunts the costophrenic angle on an erect film.", 11)],
    [("2. Pneumothorax", 14),
     ("A visceral pleural line with no lung markings beyond it suggests pneumothorax.", 11)],
]  # fmt: skip


def test_pdf_text_layer_keeps_pages_and_heading_sections(tmp_path: Path) -> None:
    doc = load_document(write_pdf(tmp_path / "guide.pdf", GUIDE_PAGES))
    text_blocks = [b for b in doc.blocks if b.kind == "text"]
    assert doc.pages == 2 and doc.ocr_pages == 0
    assert [b.page for b in text_blocks] == [1, 2]
    assert text_blocks[0].section == ("Effusion Guide", "1. Pleural fluid")
    assert text_blocks[1].section == ("Effusion Guide", "2. Pneumothorax")
    assert "costophrenic angle" in text_blocks[0].text


def test_scanned_pdf_round_trips_through_ocr(tmp_path: Path) -> None:
    pages = [[("Scanned Protocol", 22), ("Metformin is restarted after 48 hours.", 16)]]
    doc = load_document(write_pdf(tmp_path / "scan.pdf", pages, scanned=True))
    assert doc.ocr_pages == 1
    text = " ".join(b.text for b in doc.blocks).lower()
    for word in ("scanned", "protocol", "metformin", "restarted", "48", "hours"):
        assert word in text


def test_markdown_headings_become_sections_and_tables_stay_whole() -> None:
    doc = load_document(DEMO_CORPUS / "chest_radiograph_guide.md")
    assert doc.title == "Chest Radiograph Reading Guide"
    tables = [b for b in doc.blocks if b.kind == "table"]
    assert len(tables) == 1 and tables[0].text.count("\n") == 5  # header + 5 rows
    assert tables[0].section[-1] == "6.2 Descriptive terms"
    effusion = next(b for b in doc.blocks if "meniscus" in b.text)
    assert effusion.section == (
        "Chest Radiograph Reading Guide",
        "4. Common findings",
        "4.1 Pleural effusion",
    )


def test_html_keeps_main_text_and_headings_without_navigation_or_scripts() -> None:
    doc = load_document(DEMO_CORPUS / "imaging_protocol_notes.html")
    text = " ".join(b.text for b in doc.blocks)
    assert doc.title.startswith("Northfield Radiology Department")
    assert "Canteen menu" not in text and "console.log" not in text and "intranet" not in text
    metformin = next(b for b in doc.blocks if "metformin" in b.text and b.kind == "text")
    assert metformin.section == ("Imaging Protocol Notes", "3. Iodinated contrast", "3.2 Metformin")
    table = next(b for b in doc.blocks if b.kind == "table")
    assert "| emergency department | 1 hour |" in table.text


def test_plain_text_paragraphs(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("First paragraph\nwraps here.\n\nSecond paragraph.\n", encoding="utf-8")
    doc = load_document(path)
    assert [b.text for b in doc.blocks] == ["First paragraph wraps here.", "Second paragraph."]


def _encrypted(path: Path) -> Path:
    doc = pymupdf.open()
    doc.new_page().insert_text((72, 72), "secret text")
    doc.save(path, encryption=pymupdf.PDF_ENCRYPT_AES_256, user_pw="u", owner_pw="o")
    doc.close()
    return path


@pytest.mark.parametrize(
    ("name", "make", "message"),
    [
        (
            "corrupt.pdf",
            lambda p: p.write_bytes(b"%PDF-1.7 this is not a pdf"),
            "not a readable PDF",
        ),
        ("locked.pdf", _encrypted, "encrypted"),
        ("empty.md", lambda p: p.write_bytes(b""), "empty"),
        ("blank.txt", lambda p: p.write_text("  \n\n ", encoding="utf-8"), "empty"),
        ("sheet.xlsx", lambda p: p.write_bytes(b"PK\x03\x04"), "unsupported file type"),
        ("missing.md", lambda p: None, "no such file"),
    ],
)
def test_bad_files_raise_input_error_naming_the_file(tmp_path: Path, name, make, message) -> None:
    path = tmp_path / name
    make(path)
    with pytest.raises(InputError, match=message) as caught:
        load_document(path)
    assert name in str(caught.value)
