"""Lexical and semantic support between sentences and retrieved chunks, for grounding checks.

Usage:
    support = SupportScorer(embed)
    scored = support.sentences(query_vector, retrieved)        # candidate sentences, scored
    ok = support.supports(claim, chunk)                         # is a claim backed by a chunk?
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from tools.rag.chunking import Chunk
from tools.rag.hybrid_search import RetrievedChunk

_WORD = re.compile(r"[a-z0-9]+(?:[.\-/][a-z0-9]+)*")
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\[(\"'])|\n+")
STOP_WORDS = frozenset(
    """\
    a about above after again against all am an and any are as at be because been before being
    below between both but by can could did do does doing down during each few for from further
    had has have having he her here hers him his how i if in into is it its itself just me more
    most my no nor not now of off on once only or other our out over own same she should so some
    such than that the their them then there these they this those through to too under until up
    very was we were what when where which while who whom why will with would you your yours
    one also may must used use using than within per""".split()  # noqa: SIM905
)
# Generic question vocabulary: a question may use these without the documents containing them.
QUESTION_WORDS = frozenset(
    """\
    happen happens happened mean means like look looks way ways much many long often quickly
    soon need needs needed required require get gets know key main kind type types best usual
    usually normally normal common commonly say says tell describe described give given happen
    work works done make makes made find found show shows see seen take takes took help helps
    thing things something anything case cases""".split()  # noqa: SIM905
)
CACHE_CHUNKS = 4096


def content_words(text: str) -> set[str]:
    """Lower-cased words of a text without stop words, crudely singularised."""
    words = _WORD.findall(text.lower())
    return {w[:-1] if len(w) > 3 and w.endswith("s") else w for w in words if w not in STOP_WORDS}


def missing_terms(question: str, texts: Sequence[str]) -> list[str]:
    """Question content words (not generic question words) whose 5-letter stem occurs in none
    of the texts: a sign that the documents found are about something else."""
    stems = {w[:5] for text in texts for w in content_words(text)}
    return sorted(
        w
        for w in content_words(question)
        if len(w) >= 3 and w not in QUESTION_WORDS and w[:5] not in stems
    )


def split_sentences(text: str) -> list[str]:
    """Sentences (and table rows) of a chunk body or an answer."""
    return [s.strip() for s in _SENTENCE.split(text) if len(s.strip()) > 3]


def coverage(needle: str, haystack: str) -> float:
    """Share of the needle's content words that occur in the haystack (1.0 when it has none)."""
    words = content_words(needle)
    if not words:
        return 1.0
    return len(words & content_words(haystack)) / len(words)


@dataclass(frozen=True)
class ScoredSentence:
    """A sentence of a retrieved chunk, scored against the query."""

    text: str
    item: RetrievedChunk
    rank: int  # rank of its chunk in the retrieval result, from 0
    similarity: float  # cosine to the query
    overlap: float  # share of query content words in the sentence
    score: float


class SupportScorer:
    """Scores chunk sentences against a query, and claims against chunks."""

    def __init__(
        self,
        embed: Callable[[Sequence[str]], np.ndarray],
        *,
        min_similarity: float = 0.6,
        min_overlap: float = 0.3,
    ) -> None:
        self._embed = embed
        self.min_similarity = min_similarity
        self.min_overlap = min_overlap
        self._cache: OrderedDict[str, tuple[list[str], np.ndarray]] = OrderedDict()

    def chunk_sentences(self, chunk: Chunk) -> tuple[list[str], np.ndarray]:
        """A chunk's sentences and their vectors, cached by content hash."""
        cached = self._cache.get(chunk.content_hash)
        if cached is not None:
            self._cache.move_to_end(chunk.content_hash)
            return cached
        sentences = split_sentences(chunk.body)
        vectors = self._embed(sentences) if sentences else np.zeros((0, 1), dtype=np.float32)
        self._cache[chunk.content_hash] = (sentences, vectors)
        if len(self._cache) > CACHE_CHUNKS:
            self._cache.popitem(last=False)
        return sentences, vectors

    def sentences(
        self, query: str, query_vector: np.ndarray, items: list[RetrievedChunk]
    ) -> list[ScoredSentence]:
        """Every sentence of the retrieved chunks, best first."""
        scored = []
        for rank, item in enumerate(items):
            sentences, vectors = self.chunk_sentences(item.chunk)
            for text, vector in zip(sentences, vectors, strict=True):
                similarity = float(vector @ query_vector)
                overlap = coverage(query, text)
                score = 0.6 * similarity + 0.4 * overlap - 0.02 * rank
                scored.append(ScoredSentence(text, item, rank, similarity, overlap, score))
        return sorted(scored, key=lambda s: -s.score)

    def supports(self, claim: str, chunk: Chunk) -> bool:
        """Whether a chunk backs a claim: nearly all its content words appear in the chunk, or
        some do and a sentence of the chunk says nearly the same thing (cosine)."""
        lexical = coverage(claim, chunk.body)
        if lexical >= 0.8:
            return True
        if lexical < self.min_overlap:
            return False
        _, vectors = self.chunk_sentences(chunk)
        if len(vectors) == 0:
            return False
        best = float((vectors @ self._embed([claim])[0]).max())
        return best >= self.min_similarity
