"""Hashed word and word-pair features that give the router's head the cue words embeddings blur.

MiniLM sentence vectors are dominated by topic ("pleural effusion"), while intent often rides
on a few function words ("my uploaded", "quiz me", "am I allowed"). A hashed bag of lowercased
words and adjacent word pairs, L2-normalised, sits next to the embedding in the head's input;
the head learns the weights from the exemplars like any other feature. CRC32 keeps the hashing
stable across processes (Python's `hash` is salted).
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Sequence
from itertools import pairwise

import numpy as np

_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")


class LexicalFeatures:
    """Maps texts to [n, dims] float32 rows of hashed unigram and bigram counts, unit length."""

    def __init__(self, dims: int = 2048, weight: float = 1.0) -> None:
        self.dims = dims
        self.weight = weight

    def _bucket(self, token: str) -> int:
        return zlib.crc32(token.encode("utf-8")) % self.dims

    def transform(self, texts: Sequence[str]) -> np.ndarray:
        """Feature rows for `texts`; an empty text gives a zero row."""
        out = np.zeros((len(texts), self.dims), dtype=np.float32)
        for row, text in enumerate(texts):
            words = _WORD.findall(text.lower().replace("\u2019", "'"))
            for token in [*words, *(f"{a} {b}" for a, b in pairwise(words))]:
                out[row, self._bucket(token)] += 1.0
            norm = float(np.linalg.norm(out[row]))
            if norm:
                out[row] *= self.weight / norm
        return out
