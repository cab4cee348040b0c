"""Accept a user's attached file at the boundary: check its size and type, store it by content.

Files are copied into `<data dir>/attachments/<sha256><suffix>`, so the graph state holds a
path that stays valid after the user moves the original, and the same file is stored once.
The type is decided from the file's first bytes, never from its name.

Usage:
    attachment = store_attachment_file(Path("cxr.png"), "image", settings.data_dir)
    attachment = store_attachment_bytes(raw, "upload.dcm", "image", settings.data_dir)
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

from state.errors import InputError
from state.schema import Attachment, AttachmentKind

MAX_ATTACHMENT_BYTES = 50 * 1024 * 1024

_IMAGE_MAGIC: tuple[tuple[bytes, int, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", 0, ".png"),
    (b"\xff\xd8\xff", 0, ".jpg"),
    (b"DICM", 128, ".dcm"),
)
_FILE_MAGIC: tuple[tuple[bytes, int, str], ...] = ((b"%PDF-", 0, ".pdf"),)
_TEXT_SUFFIXES = (".md", ".markdown", ".txt", ".html", ".htm")


def _suffix(kind: AttachmentKind, head: bytes, name: str) -> str:
    """The stored suffix for a file whose first bytes are `head`; unknown types are refused."""
    magic = _IMAGE_MAGIC if kind == "image" else _IMAGE_MAGIC + _FILE_MAGIC
    for signature, offset, suffix in magic:
        if head[offset : offset + len(signature)] == signature:
            return suffix
    suffix = Path(name).suffix.lower()
    if kind == "file" and suffix in _TEXT_SUFFIXES:
        try:
            head.decode("utf-8")
        except UnicodeDecodeError as exc:
            if exc.start < len(head) - 4:  # a cut multi-byte character at the end is fine
                raise InputError(f"{name} is not UTF-8 text") from exc
        return suffix
    wanted = "a PNG, JPEG or DICOM image" if kind == "image" else "a PDF, image or text file"
    raise InputError(f"{name} is not {wanted} (decided from its content, not its name)")


def store_attachment_bytes(
    data: bytes,
    name: str,
    kind: AttachmentKind,
    data_dir: Path,
    max_bytes: int = MAX_ATTACHMENT_BYTES,
) -> Attachment:
    """Check and store an attachment given as bytes (an upload); return its state record."""
    if not data:
        raise InputError(f"{name} is empty")
    if len(data) > max_bytes:
        raise InputError(f"{name} is {len(data):,} bytes; the limit is {max_bytes:,}")
    suffix = _suffix(kind, data[:512], name)
    digest = hashlib.sha256(data).hexdigest()
    folder = data_dir / "attachments"
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{digest}{suffix}"
    if not target.exists():
        with tempfile.NamedTemporaryFile(dir=folder, delete=False) as tmp:
            tmp.write(data)
        os.replace(tmp.name, target)
    return Attachment(
        kind=kind, path=str(target), name=Path(name).name, sha256=digest, size_bytes=len(data)
    )


def store_attachment_file(
    path: Path, kind: AttachmentKind, data_dir: Path, max_bytes: int = MAX_ATTACHMENT_BYTES
) -> Attachment:
    """Check and store an attachment given as a local path (the chat's `/image PATH`)."""
    path = path.expanduser()
    if not path.is_file():
        raise InputError(f"{path} is not a readable file")
    size = path.stat().st_size
    if size > max_bytes:
        raise InputError(f"{path.name} is {size:,} bytes; the limit is {max_bytes:,}")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"could not read {path}: {exc.strerror}") from exc
    return store_attachment_bytes(data, path.name, kind, data_dir, max_bytes)
