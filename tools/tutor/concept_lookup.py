"""Find the curriculum concepts a learner's phrase names ("the silhouette sign", "devices", "PPV").

Matching is lexical and deterministic, best tier first, and a phrase or alias must cover more
than half of the text's content words (so "unicorn anatomy" names nothing):
1. a title or id phrase occurring in the text ("pleural effusion") → the longest such phrases,
   unless a longer topic name or alias occurs ("machine learning") → every concept of the topic;
2. else a distinctive word (≥ 5 letters) of a title or id ("inspiration") → every concept with it.

Usage:
    ConceptIndex(bank).find("quiz me on pneumothorax")   # ['pneumothorax']
"""

from __future__ import annotations

import re

from tools.tutor.bank import Bank, Topic
from tools.tutor.grading import stems

TOPIC_ALIASES: dict[Topic, tuple[str, ...]] = {
    "basics": ("basics", "the basics", "image quality", "projections", "anatomy"),
    "reading": ("reading", "how to read", "reading order", "interpretation"),
    "conditions": ("conditions", "findings", "pathology", "diseases"),
    "devices": ("devices", "support devices", "lines and tubes", "tubes and lines"),
    "ml": ("ml", "machine learning", "medical ai", "ai", "statistics", "ai evaluation"),
}
STOPWORDS = frozenset(
    stems(
        "a an the of and or in on for to with its their your my me about what is are how "
        "quiz test explain question questions practice please some more tell teach "
        # words of the setting, not of a concept: "how a pneumothorax looks on a chest X-ray"
        "chest x ray xray cxr radiograph radiographs film films look looks like appear appears "
        "appearance see seen show shows"
    )
)
MIN_WORD = 5
_SPLIT = re.compile(r",|\(|\)|\band\b|:|;")


def _content(text: str) -> list[str]:
    return [w for w in stems(text) if w not in STOPWORDS]


def _contains(words: list[str], phrase: list[str]) -> bool:
    width = len(phrase)
    return width > 0 and any(words[i : i + width] == phrase for i in range(len(words) - width + 1))


class ConceptIndex:
    """Phrases per concept (title segments, id, acronyms) and topic aliases, ready to match."""

    def __init__(self, bank: Bank) -> None:
        self.bank = bank
        self._phrases: dict[str, list[list[str]]] = {}
        for concept in bank.concepts:
            pieces = [*_SPLIT.split(concept.title), concept.title, concept.id.replace("_", " ")]
            pieces += [t for t in concept.id.split("_") if 2 <= len(t) <= 4 and t.isalpha()]
            phrases = [p for p in (_content(piece) for piece in pieces) if p]
            self._phrases[concept.id] = phrases
        self._topics = {
            topic: [_content(alias) or stems(alias) for alias in aliases]
            for topic, aliases in TOPIC_ALIASES.items()
        }

    def find(self, text: str) -> list[str]:
        """Concept ids the text names, best tier only, in curriculum order; [] when none."""
        words = _content(text)
        if not words:
            return []
        lengths = {
            cid: max((len(p) for p in phrases if _contains(words, p)), default=0)
            for cid, phrases in self._phrases.items()
        }
        longest = max(lengths.values())
        if 2 * longest <= len(words):
            longest = 0  # a phrase naming less than half of the words is not what was meant
        topic_lengths = {
            topic: max((len(a) for a in aliases if _contains(words, a)), default=0)
            for topic, aliases in self._topics.items()
        }
        topic, topic_length = max(topic_lengths.items(), key=lambda item: item[1])
        if topic_length > longest and 2 * topic_length > len(words):
            return [c.id for c in self.bank.concepts if c.topic == topic]
        if longest:
            return [cid for cid, n in lengths.items() if n == longest]
        distinctive = {w for w in words if len(w) >= MIN_WORD}
        return [
            cid
            for cid, phrases in self._phrases.items()
            if distinctive & {w for p in phrases for w in p}
        ]

    def topics(self) -> str:
        """The topics and a few concept titles each, for replies that list what is taught."""
        parts = []
        for topic in TOPIC_ALIASES:
            titles = [c.title for c in self.bank.concepts if c.topic == topic][:3]
            if titles:
                parts.append(f"{topic} (e.g. {', '.join(titles)})")
        return "; ".join(parts)
