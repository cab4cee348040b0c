"""Boundary validation of user text: empty, oversized, binary and undecodable input."""

from __future__ import annotations

import pytest

from app.user_input import decode_user_bytes, validate_user_text
from state.errors import InputError


def test_plain_text_is_stripped_and_kept():
    assert validate_user_text("  what is a silhouette sign?\n", 100) == "what is a silhouette sign?"


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "empty"),
        ("   \n\t ", "empty"),
        ("x" * 101, "limit is 100"),
        ("hello\x00world", r"U\+0000"),
        ("bell\x07", "binary control"),
    ],
)
def test_bad_text_is_refused_with_a_clear_message(text, fragment):
    with pytest.raises(InputError, match=fragment):
        validate_user_text(text, 100)


def test_undecodable_bytes_are_refused_with_the_position():
    with pytest.raises(InputError, match="position 2"):
        decode_user_bytes(b"ok\xff\xfe")
    assert decode_user_bytes("naïve café".encode()) == "naïve café"
