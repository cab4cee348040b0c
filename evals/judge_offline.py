"""The offline judge (not an LLM): MiniLM similarity to references plus the rubric's keyword checks.

Used when no judge endpoint is configured. It is labelled as such wherever its scores appear,
and never presented as an LLM judgement. For a rubric it computes

    score = w · similarity + (1 − w) · max(0, 1 − Σ weights of failed checks)

where `similarity` is the cosine between the answer and the rubric's reference texts (sources,
reference answer, question) mapped linearly from the rubric's [low, high] range to [0, 1];
with `per_sentence`, each answer sentence is matched with its best source sentence and the
matches are averaged. Checks are regular expressions that must not match (`forbid`), of which
one must match (`require_any`), numbers that must appear in the references, and a minimum
length. Pairwise, the higher score wins when it leads by `margin`.

Usage:
    judge = OfflineJudge(guards.embeddings, embedder_id="minilm-int8")
    verdict = asyncio.run(judge.score(case, rubrics["faithfulness"]))
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Literal, Protocol

import numpy as np

from evals.judge import Choice, JudgeCase, Preference, Verdict, combine_orders
from evals.rubric import Check, Rubric

OFFLINE_LABEL = "offline judge (not an LLM): MiniLM similarity + rubric keyword checks"
OFFLINE_VERSION = "1"
_SENTENCE = re.compile(r"(?<=[.!?;])\s+|\n+")
_NUMBER = re.compile(r"\d+(?:\.\d+)?")


class TextEmbedder(Protocol):
    """Embeds texts to L2-normalised rows (the guarded shared MiniLM in MedGraph)."""

    def embed(self, texts: Sequence[str]) -> np.ndarray: ...


def sentences(text: str) -> list[str]:
    """The text's sentences (and lines), without empty ones."""
    return [s.strip() for s in _SENTENCE.split(text) if len(s.strip()) > 2]


def _references(case: JudgeCase, rubric: Rubric) -> list[str]:
    texts = {"sources": case.sources, "reference": [case.reference], "question": [case.question]}
    return [t for kind in rubric.offline.references for t in texts[kind] if t.strip()]


def failed_checks(answer: str, references: Sequence[str], checks: Sequence[Check]) -> list[Check]:
    """The rubric checks the answer fails."""
    failed = []
    reference_numbers = set(_NUMBER.findall(" ".join(references)))
    for check in checks:
        if check.kind == "forbid":
            bad = any(re.search(p, answer, flags=re.IGNORECASE) for p in check.patterns)
        elif check.kind == "require_any":
            bad = not any(re.search(p, answer, flags=re.IGNORECASE) for p in check.patterns)
        elif check.kind == "numbers_in_references":
            bad = bool(set(_NUMBER.findall(answer)) - reference_numbers)
        else:
            bad = len(answer.split()) < check.words
        if bad:
            failed.append(check)
    return failed


class OfflineJudge:
    """Scores with embedding similarity and keyword checks; no language model involved."""

    kind: Literal["llm", "offline"] = "offline"
    label = OFFLINE_LABEL

    def __init__(self, embedder: TextEmbedder, *, embedder_id: str, margin: float = 0.05) -> None:
        self._embedder = embedder
        self._margin = margin
        self.identity = f"offline:{OFFLINE_VERSION}:{embedder_id}"

    def _similarity(self, answer: str, references: list[str], per_sentence: bool) -> float:
        if not references or not answer.strip():
            return 0.0
        if per_sentence:
            claims = sentences(answer) or [answer]
            evidence = [s for r in references for s in (sentences(r) or [r])] + references
            vectors = self._embedder.embed([*claims, *evidence])
            best = (vectors[: len(claims)] @ vectors[len(claims) :].T).max(axis=1)
            return float(best.mean())
        vectors = self._embedder.embed([answer, *references])
        return float((vectors[1:] @ vectors[0]).mean())

    def rate(self, case: JudgeCase, rubric: Rubric) -> float:
        """The 0..1 score of one answer under one rubric."""
        spec = rubric.offline
        references = _references(case, rubric)
        cosine = self._similarity(case.answer, references, spec.per_sentence)
        span = spec.similarity.high - spec.similarity.low
        similarity = float(np.clip((cosine - spec.similarity.low) / span, 0.0, 1.0))
        everything = [*case.sources, case.reference, case.question]
        penalty = sum(c.weight for c in failed_checks(case.answer, everything, spec.checks))
        keywords = max(0.0, 1.0 - penalty)
        return spec.weight_similarity * similarity + (1 - spec.weight_similarity) * keywords

    async def score(self, case: JudgeCase, rubric: Rubric) -> Verdict:
        """The offline verdict (method `offline`), with the score also on the rubric's scale."""
        score = self.rate(case, rubric)
        return Verdict(
            item_id=case.item_id,
            rubric=rubric.name,
            score=score,
            raw=rubric.scale.min + score * (rubric.scale.max - rubric.scale.min),
            method="offline",
            judge=self.label,
        )

    def _choice(self, first: float, second: float) -> Choice:
        if first - second > self._margin:
            return "a"
        if second - first > self._margin:
            return "b"
        return "tie"

    async def prefer(self, a: JudgeCase, b: JudgeCase, rubric: Rubric) -> Preference:
        """Both orders, as for the LLM judge (the offline scores do not depend on order)."""
        score_a, score_b = self.rate(a, rubric), self.rate(b, rubric)
        first = self._choice(score_a, score_b)
        swapped = {"a": "b", "b": "a", "tie": "tie"}[self._choice(score_b, score_a)]
        winner, consistent = combine_orders(first, swapped)  # type: ignore[arg-type]
        return Preference(
            item_id=a.item_id,
            rubric=rubric.name,
            winner=winner,
            consistent=consistent,
            orders=(first, swapped),  # type: ignore[arg-type]
            judge=self.label,
        )
