"""Split a user message into candidate task segments at sentence and conjunction cues."""

from __future__ import annotations

import re

# Sentence ends, semicolons, and sequencing conjunctions ("and then", "after that", "also").
SEGMENT_CUES = re.compile(
    r"(?<=[.?!;])\s+"
    r"|\s*[,;]?\s*\b(?:and\s+then|and\s+also|then|after\s+that|afterwards|also|plus|"
    r"as\s+well\s+as|next)\b[,:]?\s*",
    re.IGNORECASE,
)
MIN_SEGMENT_WORDS = 3


def has_cues(text: str) -> bool:
    """Whether the message has any cue at which it could be split."""
    return SEGMENT_CUES.search(text.strip()) is not None


def split_segments(text: str, min_words: int = MIN_SEGMENT_WORDS) -> list[str]:
    """Pieces of `text` between cues, in order; pieces under `min_words` join their neighbour.

    A message without cues comes back as one segment, so callers pay nothing extra for it.
    """
    stripped = text.strip()
    pieces: list[str] = []
    start = 0
    for cue in SEGMENT_CUES.finditer(stripped):
        pieces.append(stripped[start : cue.start()])
        start = cue.end()
    pieces.append(stripped[start:])
    pieces = [p.strip(" ,;:") for p in pieces if p.strip(" ,;:.?!")]
    merged: list[str] = []
    carry = ""
    for piece in pieces:
        if len(piece.split()) < min_words:
            if merged:
                merged[-1] = f"{merged[-1]} {piece}"
            else:
                carry = f"{carry} {piece}".strip()
            continue
        merged.append(f"{carry} {piece}".strip())
        carry = ""
    if carry:
        merged.append(carry)
    return merged or [stripped]
