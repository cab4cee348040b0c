"""Validate user text at the boundary: empty, too large, binary or undecodable input is refused."""

from __future__ import annotations

import unicodedata

from state.errors import InputError

ALLOWED_CONTROL = {"\n", "\t", "\r"}


def decode_user_bytes(raw: bytes) -> str:
    """Decode UTF-8 strictly; anything else is refused as undecodable."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(
            f"the message is not valid UTF-8 text (bad byte at position {exc.start}); "
            "send plain text, or attach files with /file"
        ) from exc


def validate_user_text(text: str, max_chars: int) -> str:
    """Return the stripped message, or raise `InputError` saying what is wrong with it."""
    stripped = text.strip()
    if not stripped:
        raise InputError("the message is empty; type a question or /help")
    if len(stripped) > max_chars:
        raise InputError(
            f"the message has {len(stripped):,} characters; the limit is {max_chars:,} "
            "(MEDGRAPH_MAX_MESSAGE_CHARS). Shorten it or attach it as a file"
        )
    control = [
        ch
        for ch in stripped
        if unicodedata.category(ch) in ("Cc", "Cs") and ch not in ALLOWED_CONTROL
    ]
    if control:
        raise InputError(
            f"the message contains {len(control)} binary control character(s) "
            f"(first: U+{ord(control[0]):04X}); send plain text"
        )
    return stripped
