"""Attachments are checked by content and size at the boundary and stored once by hash."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image
from pydicom.data import get_testdata_file

from app.attachments import store_attachment_bytes, store_attachment_file
from state.errors import InputError


def png_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.new("L", (64, 64), 128).save(buffer, format="PNG")
    return buffer.getvalue()


def test_png_is_stored_by_content_hash_once(tmp_path):
    first = store_attachment_bytes(png_bytes(), "chest.png", "image", tmp_path)
    second = store_attachment_bytes(png_bytes(), "renamed.bin", "image", tmp_path)
    assert first.path == second.path and first.path.endswith(".png")
    assert first.name == "chest.png" and second.name == "renamed.bin"
    assert len(list((tmp_path / "attachments").iterdir())) == 1


def test_a_real_dicom_file_is_recognised_from_its_preamble(tmp_path):
    path = get_testdata_file("CT_small.dcm")
    attachment = store_attachment_file(Path(path), "image", tmp_path)
    assert attachment.path.endswith(".dcm") and attachment.size_bytes > 0


@pytest.mark.parametrize(
    ("data", "name", "message"),
    [
        (b"", "empty.png", "is empty"),
        (b"just some text", "fake.png", "not a PNG, JPEG or DICOM image"),
        (b"%PDF-1.7 ...", "report.pdf", "not a PNG, JPEG or DICOM image"),
    ],
)
def test_bad_images_are_refused_with_a_clear_error(tmp_path, data, name, message):
    with pytest.raises(InputError, match=message):
        store_attachment_bytes(data, name, "image", tmp_path)
    assert not (tmp_path / "attachments").exists() or not any((tmp_path / "attachments").iterdir())


def test_files_accept_pdf_and_utf8_text_but_not_binary_named_text(tmp_path):
    assert store_attachment_bytes(b"%PDF-1.7", "a.pdf", "file", tmp_path).path.endswith(".pdf")
    assert store_attachment_bytes(b"# Notes", "n.md", "file", tmp_path).path.endswith(".md")
    with pytest.raises(InputError, match="not UTF-8"):
        store_attachment_bytes(b"\xff\xfe\x00garbage" * 10, "n.txt", "file", tmp_path)


def test_oversized_and_missing_files_are_refused(tmp_path):
    with pytest.raises(InputError, match="the limit is 10"):
        store_attachment_bytes(png_bytes(), "big.png", "image", tmp_path, max_bytes=10)
    with pytest.raises(InputError, match="not a readable file"):
        store_attachment_file(tmp_path / "nope.png", "image", tmp_path)
