"""Turn a run's `input` into the graph's input: one checked user message and its attachments.

Clients may send only user messages and attachments: the user, tenant, route, guard state and
PHI vault are the server's to set. Files arrive inline (base64 in `input.attachments`, or as
LangChain image/file content blocks, or `data:` URLs) or by the id of an earlier multipart
upload. Every file is checked by `app.attachments` (type from its content, size) and stored
once by hash; the server never fetches a remote URL.

Usage:
    graph_input = await build_graph_input(payload, principal, uploads, limits)
"""

from __future__ import annotations

import asyncio
import base64
import binascii
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from langchain_core.messages import HumanMessage

from app.attachments import store_attachment_bytes
from app.server.keys import Principal
from app.user_input import validate_user_text
from state.errors import InputError
from state.schema import Attachment, AttachmentKind

MAX_ATTACHMENTS = 8
INPUT_KEYS = frozenset({"messages", "attachments"})
UploadLookup = Callable[[str], Awaitable[Attachment]]


@dataclass(frozen=True)
class InputLimits:
    """Where attachments are stored and how large messages and files may be."""

    data_dir: Path
    max_message_chars: int
    max_attachment_bytes: int


@dataclass(frozen=True)
class _InlineFile:
    kind: AttachmentKind
    name: str
    data: str


def _decode(inline: _InlineFile, max_bytes: int) -> bytes:
    if len(inline.data) * 3 // 4 > max_bytes + 3:
        raise InputError(f"{inline.name} is larger than the {max_bytes:,}-byte attachment limit")
    try:
        return base64.b64decode(inline.data, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InputError(f"{inline.name}: the attachment is not valid base64") from exc


def _from_data_url(url: str, kind: AttachmentKind, name: str) -> _InlineFile:
    if not url.startswith("data:"):
        raise InputError("only inline data: URLs are accepted; the server fetches nothing remote")
    header, _, data = url.partition(",")
    if not header.endswith(";base64"):
        raise InputError("a data: URL attachment must be base64-encoded")
    return _InlineFile(kind, name, data)


def _block_file(block: dict[str, Any]) -> _InlineFile | None:
    """The inline file of an image/file content block; None for a text block."""
    kind = block.get("type")
    if kind == "text":
        return None
    meta = block.get("metadata") if isinstance(block.get("metadata"), dict) else {}
    name = str(block.get("filename") or block.get("name") or meta.get("filename") or "upload")
    if kind == "image_url":
        image = block.get("image_url")
        url = image.get("url") if isinstance(image, dict) else image
        return _from_data_url(str(url or ""), "image", name)
    if kind in ("image", "file"):
        data = block.get("base64") or block.get("data")
        if not isinstance(data, str) or not data:
            raise InputError(f"{kind} content blocks must carry inline base64 data")
        return _InlineFile("image" if kind == "image" else "file", name, data)
    raise InputError(f"unsupported content block type {kind!r}")


def _message(messages: Any) -> tuple[str, list[_InlineFile], str | None]:
    """The one user message's text, its inline files, and its id."""
    if not isinstance(messages, list) or len(messages) != 1:
        raise InputError("input.messages must be a list holding exactly one user message")
    message = messages[0]
    if isinstance(message, str):
        return message, [], None
    if not isinstance(message, dict):
        raise InputError("a message must be a string or an object with role and content")
    role = message.get("role", message.get("type"))
    if role not in ("user", "human"):
        raise InputError(f"only user messages can be posted (got role {role!r})")
    content = message.get("content")
    message_id = message.get("id")
    if message_id is not None and (not isinstance(message_id, str) or len(message_id) > 128):
        raise InputError("a message id must be a string of at most 128 characters")
    if isinstance(content, str):
        return content, [], message_id
    if not isinstance(content, list):
        raise InputError("message content must be a string or a list of content blocks")
    texts: list[str] = []
    files: list[_InlineFile] = []
    for block in content:
        if isinstance(block, str):
            texts.append(block)
            continue
        if not isinstance(block, dict):
            raise InputError("content blocks must be objects")
        inline = _block_file(block)
        if inline is None:
            texts.append(str(block.get("text", "")))
        else:
            files.append(inline)
    return "\n".join(t for t in texts if t), files, message_id


def _attachment_entries(entries: Any) -> tuple[list[_InlineFile], list[str]]:
    if entries is None:
        return [], []
    if not isinstance(entries, list):
        raise InputError("input.attachments must be a list")
    inline: list[_InlineFile] = []
    uploads: list[str] = []
    for entry in entries:
        if not isinstance(entry, dict):
            raise InputError("each attachment must be an object")
        if "upload_id" in entry:
            uploads.append(str(entry["upload_id"]))
            continue
        kind = entry.get("kind")
        if kind not in ("image", "file"):
            raise InputError("an attachment's kind must be 'image' or 'file'")
        data = entry.get("data")
        if not isinstance(data, str) or not data:
            raise InputError("an inline attachment needs base64 `data` (or give an upload_id)")
        inline.append(_InlineFile(kind, str(entry.get("name") or "upload"), data))
    return inline, uploads


async def build_graph_input(
    payload: dict[str, Any], principal: Principal, uploads: UploadLookup, limits: InputLimits
) -> dict[str, Any]:
    """The graph input for one user turn, with attachments checked and stored."""
    extra = sorted(set(payload) - INPUT_KEYS)
    if extra:
        raise InputError(
            f"input may hold only messages and attachments; {', '.join(extra)} is set by the server"
        )
    text, files, message_id = _message(payload.get("messages"))
    inline, upload_ids = _attachment_entries(payload.get("attachments"))
    files += inline
    if len(files) + len(upload_ids) > MAX_ATTACHMENTS:
        raise InputError(f"at most {MAX_ATTACHMENTS} attachments per message")
    attachments = [await uploads(upload_id) for upload_id in upload_ids]
    for file in files:
        raw = _decode(file, limits.max_attachment_bytes)
        attachments.append(
            await asyncio.to_thread(
                store_attachment_bytes,
                raw,
                file.name,
                file.kind,
                limits.data_dir,
                limits.max_attachment_bytes,
            )
        )
    message = HumanMessage(validate_user_text(text, limits.max_message_chars))
    if message_id:
        message.id = message_id
    return {
        "messages": [message],
        "user_id": principal.user,
        "tenant_id": principal.tenant,
        "attachments": attachments,
    }
