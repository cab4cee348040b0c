"""Socratic teaching text: graduated hints (nudge → concept pointer → worked answer), explanations.

Every hint past the nudge, and every explanation, quotes the curriculum and cites it as
`[concept: id]`, so the learner can see where the teaching comes from.

Usage:
    hint = graduated_hint(bank, question, level=1, chosen=2)   # rules out another distractor
    text, citations = closing_explanation(bank, question)
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from tools.tutor.bank import Bank, Concept, Question
from tools.tutor.grading import LETTERS, stems
from tools.tutor.wire import ConceptExplanation, HintView

MAX_HINT_LEVEL = 3
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9(\"'])")


def _overlap(text: str, reference: set[str]) -> int:
    return len(set(stems(text)) & reference)


def best_passage(candidates: Sequence[str], question: Question, extra: str = "") -> str:
    """The candidate sharing the most words with the question (first one on ties)."""
    reference = set(stems(" ".join([question.stem, question.answer, extra])))
    return max(candidates, key=lambda c: (_overlap(c, reference), -candidates.index(c)))


def curriculum_quote(bank: Bank, question: Question) -> tuple[str, str]:
    """The sentence of the primary concept's text most relevant to the question, and its label."""
    concept = bank.concept(question.concepts[0])
    sentences = [s.strip() for s in _SENTENCE.split(concept.text) if s.strip()]
    return best_passage(sentences, question), concept.citation


def nudge(
    bank: Bank, question: Question, chosen: int | None, missing: Sequence[str] = ()
) -> HintView:
    """Level 1: a question back to the learner, ruling out one more distractor (mcq)."""
    title = bank.concept(question.concepts[0]).title
    if question.kind == "mcq":
        ruled_out = next(i for i, c in enumerate(question.choices) if not c.correct and i != chosen)
        choice = question.choices[ruled_out]
        text = (
            f"Think about {title}. You can rule out {LETTERS[ruled_out]}: {choice.rationale} "
            "Which of the remaining choices fits what the question describes?"
        )
    elif missing:
        text = (
            f"You are on your way. What about “{missing[0]}”: how does it fit into an answer "
            f"about {title}? A full answer covers {len(question.rubric_keywords)} key ideas."
        )
    else:
        text = (
            f"What does {title} tell you about this situation? A full answer covers "
            f"{len(question.rubric_keywords)} key ideas; name each and say why it matters."
        )
    return HintView(level=1, kind="nudge", text=text)


def pointer(bank: Bank, question: Question) -> HintView:
    """Level 2: the concept's most relevant key point, cited, with a question to apply it."""
    concept = bank.concept(question.concepts[0])
    point = best_passage(list(concept.key_points), question)
    return HintView(
        level=2,
        kind="pointer",
        text=(
            f"Look at {concept.title}: “{point}” {concept.citation} "
            "How does that apply to this question?"
        ),
        citations=[concept.citation],
    )


def worked(bank: Bank, question: Question) -> HintView:
    """Level 3: the answer with its explanation, why each distractor is wrong, and the source."""
    quote, label = curriculum_quote(bank, question)
    parts = [f"Worked answer: {question.answer}", question.explanation]
    if question.kind == "mcq":
        others = "; ".join(
            f"{LETTERS[i]} — {c.rationale}" for i, c in enumerate(question.choices) if not c.correct
        )
        parts.append(f"Why not the others: {others}")
    parts.append(f"From the curriculum: “{quote}” {label}")
    return HintView(level=3, kind="worked", text=" ".join(parts), citations=[label])


def graduated_hint(
    bank: Bank,
    question: Question,
    level: int,
    chosen: int | None = None,
    missing: Sequence[str] = (),
) -> HintView:
    """The hint at `level` (1 nudge, 2 pointer, 3 worked answer; higher stays at 3)."""
    if level <= 1:
        return nudge(bank, question, chosen, missing)
    if level == 2:
        return pointer(bank, question)
    return worked(bank, question)


def closing_explanation(bank: Bank, question: Question) -> tuple[str, list[str]]:
    """The explanation shown when a question closes, with a cited curriculum quote."""
    quote, label = curriculum_quote(bank, question)
    citations = [bank.concept(c).citation for c in question.concepts]
    return f"{question.explanation} From the curriculum: “{quote}” {label}", citations


def explain(concept: Concept) -> ConceptExplanation:
    """A concept's text and key points, with the citation label to quote it by."""
    return ConceptExplanation(
        concept_id=concept.id,
        title=concept.title,
        topic=concept.topic,
        text=concept.text,
        key_points=list(concept.key_points),
        prerequisites=list(concept.prerequisites),
        citation=concept.citation,
    )
