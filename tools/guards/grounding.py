"""Grounding for documents and policy answers: every sentence cites a chunk that supports it.

A sentence is kept when it carries a citation `[label]` naming a given chunk, and that chunk
supports it: enough of the sentence's content words occur in the chunk (lexical) and the
sentence's embedding is close to the chunk or one of its sentences (semantic). Unsupported
sentences are removed. If too little is left, the answer becomes an extractive, cited answer
from the chunks, or abstains when there is nothing to cite.

Usage:
    grounded = ground_answer(answer, [Evidence("policy.pdf p.3 §2", chunk_text)],
                             embed=shared_embeddings.embed,
                             thresholds=GroundingThresholds(0.6, 0.6, 0.5))
    grounded.text, grounded.removed, grounded.fallback
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

ABSTAIN = "The documents I can see do not support an answer to this question."

_CITATION = re.compile(r"\[([^\[\]]+)\]")
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\[(\"'])|\n+")
_WORD = re.compile(r"[a-z0-9]+")
_STOP_TEXT = (
    "a an and are as at be been by can could did do does for from had has have he her his how "
    "i if in into is it its may might must no not of on or our she should so than that the "
    "their them then there these they this those to was we were what when where which who "
    "will with would you your also per"
)
_STOP = frozenset(_STOP_TEXT.split())

Embed = Callable[[Sequence[str]], np.ndarray]


@dataclass(frozen=True)
class Evidence:
    """A retrieved chunk and the citation label answers use for it."""

    citation: str
    text: str


@dataclass(frozen=True)
class GroundingThresholds:
    """Settings `MEDGRAPH_GUARD_GROUNDING_*`: lexical share, cosine, and the minimum kept share."""

    lexical: float
    semantic: float
    min_kept: float


@dataclass(frozen=True)
class GroundedAnswer:
    """The answer to show, the sentences kept and removed, and which fallback applied."""

    text: str
    kept: list[str]
    removed: list[str]
    fallback: Literal["none", "extractive", "abstain"]


def content_words(text: str) -> set[str]:
    """Lower-cased words without stop words, crudely singularised."""
    words = _WORD.findall(text.lower())
    return {w[:-1] if len(w) > 3 and w.endswith("s") else w for w in words if w not in _STOP}


def split_sentences(text: str) -> list[str]:
    """The sentences of an answer or chunk."""
    return [s.strip() for s in _SENTENCE.split(text) if s.strip()]


def lexical_support(sentence: str, chunk: str) -> float:
    """The share of the sentence's content words (citations excluded) found in the chunk."""
    words = content_words(_CITATION.sub(" ", sentence))
    return len(words & content_words(chunk)) / len(words) if words else 0.0


def ground_answer(
    answer: str,
    evidence: Sequence[Evidence],
    *,
    embed: Embed,
    thresholds: GroundingThresholds,
) -> GroundedAnswer:
    """Keep the cited, supported sentences; fall back to an extractive answer or abstain."""
    by_label = {e.citation: e for e in evidence}
    sentences = split_sentences(answer)
    candidates: list[tuple[str, list[Evidence]]] = []
    removed: list[str] = []
    for sentence in sentences:
        cited = [by_label[c.strip()] for c in _CITATION.findall(sentence) if c.strip() in by_label]
        lexical = [e for e in cited if lexical_support(sentence, e.text) >= thresholds.lexical]
        if lexical:
            candidates.append((sentence, lexical))
        else:
            removed.append(sentence)
    kept = _semantically_supported(candidates, embed, thresholds.semantic)
    removed += [s for s, _ in candidates if s not in kept]
    if sentences and len(kept) / len(sentences) >= thresholds.min_kept:
        return GroundedAnswer(" ".join(kept), kept, removed, "none")
    if not evidence:
        return GroundedAnswer(ABSTAIN, [], removed, "abstain")
    return GroundedAnswer(extractive_answer(evidence), kept, removed, "extractive")


def _semantically_supported(
    candidates: list[tuple[str, list[Evidence]]], embed: Embed, threshold: float
) -> list[str]:
    """Sentences whose embedding is close to a cited chunk or one of its sentences."""
    if not candidates:
        return []
    pieces: list[str] = []
    owners: list[int] = []
    for index, (_, cited) in enumerate(candidates):
        for e in cited:
            for piece in [e.text, *split_sentences(e.text)]:
                pieces.append(piece)
                owners.append(index)
    vectors = embed([_CITATION.sub(" ", s) for s, _ in candidates] + pieces)
    claims, support = vectors[: len(candidates)], vectors[len(candidates) :]
    best = np.full(len(candidates), -1.0)
    for row, owner in enumerate(owners):
        best[owner] = max(best[owner], float(claims[owner] @ support[row]))
    return [s for (s, _), score in zip(candidates, best, strict=True) if score >= threshold]


def extractive_answer(evidence: Sequence[Evidence], sentences: int = 2) -> str:
    """The first sentences of the chunks, each with its citation: nothing generated."""
    lines = [
        f"{' '.join(split_sentences(e.text)[:sentences])} [{e.citation}]" for e in evidence[:3]
    ]
    return "From the documents:\n" + "\n".join(f"- {line}" for line in lines)
