"""The supervisor's fast path: embedding intent classifier with segments and a safety floor.

Usage:
    classifier = IntentClassifier.from_default(embedder)
    prediction = classifier.classify("draft a report for this x-ray and then quiz me on effusions")
    [(s.intent, s.confidence) for s in prediction.segments]  # [("radiology", ..), ("tutor", ..)]

How a message is decided:
1. The safety lexicon runs first; a hit means `escalate` at confidence 1.0, nothing else.
2. The whole message (and, only when it has sentence or conjunction cues, each segment) is
   embedded in one `embed` call; each vector, next to its hashed cue-word features, is scored
   by a softmax head fitted on the exemplars at load time (see `softmax_head` for the
   calibration). `scores` is always the whole message's.
3. If the model puts the message or any segment on `escalate`, the turn escalates.
4. Segments: `general` pieces next to a specialist piece are pleasantries and are dropped,
   pieces below `min_segment_confidence` join the piece before them, and neighbours with the
   same intent merge. Two or more intents left make a multi-intent prediction: `intent` is the
   first task's, `confidence` the weakest task's (the supervisor verifies if any is unsure).
   Otherwise `intent` and `confidence` are the whole message's top score.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from typing import Protocol

import numpy as np
import yaml

from state.errors import ConfigError, InputError
from state.schema import INTENTS, Intent
from tools.models.embedder import WindowedEmbedding
from tools.routing.lexical_features import LexicalFeatures
from tools.routing.safety_lexicon import SafetyLexicon
from tools.routing.segmenter import split_segments
from tools.routing.softmax_head import HeadConfig, SoftmaxHead

ESCALATE: Intent = "escalate"
GENERAL: Intent = "general"


class TextEmbedder(Protocol):
    """What the classifier needs from an embedder (`MiniLMEmbedder` provides it)."""

    max_tokens: int

    def embed(self, texts: Sequence[str]) -> np.ndarray: ...

    def embed_windows(self, text: str, *, overlap: int = 32) -> WindowedEmbedding: ...

    def token_count(self, text: str) -> int: ...


@dataclass(frozen=True)
class SegmentPrediction:
    """One task found in the message: its text, intent and confidence."""

    text: str
    intent: Intent
    confidence: float


@dataclass(frozen=True)
class IntentPrediction:
    """The classifier's decision for one message, plus the embedding the guards reuse."""

    embedding: np.ndarray  # [384] whole-message embedding (window mean for long messages)
    scores: dict[str, float]  # the model's probability per intent for the whole message
    intent: Intent
    confidence: float
    segments: list[SegmentPrediction] = field(default_factory=list)
    safety_hit: bool = False
    safety_category: str | None = None

    @property
    def multi_intent(self) -> bool:
        """Whether the message asks for more than one kind of work."""
        return len({s.intent for s in self.segments}) > 1


def load_exemplars(text: str) -> dict[Intent, list[str]]:
    """Parse and check exemplar YAML: one non-empty list of strings per intent."""
    data = yaml.safe_load(text)
    if not isinstance(data, dict) or set(data) != set(INTENTS):
        found = sorted(data) if isinstance(data, dict) else type(data).__name__
        raise ConfigError(f"exemplars must have exactly the intents {INTENTS}, got {found}")
    exemplars: dict[Intent, list[str]] = {}
    for intent in INTENTS:
        items = data[intent]
        if not isinstance(items, list) or not items or not all(isinstance(t, str) for t in items):
            raise ConfigError(f"exemplars for {intent!r} must be a non-empty list of strings")
        exemplars[intent] = items
    return exemplars


class IntentClassifier:
    """Scores messages against intent exemplars; deterministic for a given embedder."""

    def __init__(
        self,
        embedder: TextEmbedder,
        exemplars: Mapping[Intent, Sequence[str]],
        *,
        head_config: HeadConfig | None = None,
        lexicon: SafetyLexicon | None = None,
        lexical: LexicalFeatures | None = None,
        min_segment_confidence: float = 0.5,
    ) -> None:
        self.embedder = embedder
        self.lexicon = lexicon or SafetyLexicon()
        self.lexical = lexical or LexicalFeatures()
        self.min_segment_confidence = min_segment_confidence
        texts = [t for intent in INTENTS for t in exemplars[intent]]
        labels = np.array([i for i, intent in enumerate(INTENTS) for _ in exemplars[intent]])
        features = self._features(texts, embedder.embed(texts))
        self.head = SoftmaxHead.fit(features, labels, len(INTENTS), head_config or HeadConfig())

    @classmethod
    def from_default(
        cls,
        embedder: TextEmbedder,
        *,
        head_config: HeadConfig | None = None,
        min_segment_confidence: float = 0.5,
    ) -> IntentClassifier:
        """Build on the exemplars packaged with MedGraph (`tools/routing/exemplars.yaml`)."""
        text = resources.files("tools.routing").joinpath("exemplars.yaml").read_text("utf-8")
        return cls(
            embedder,
            load_exemplars(text),
            head_config=head_config,
            min_segment_confidence=min_segment_confidence,
        )

    def _features(self, texts: Sequence[str], vectors: np.ndarray) -> np.ndarray:
        """The head's input: each text's embedding next to its hashed cue-word features."""
        return np.hstack([vectors, self.lexical.transform(texts)])

    def _embed(self, text: str, segments: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Whole-message vector and segment vectors, in one `embed` call for short messages."""
        extra = segments if len(segments) > 1 else []
        if self.embedder.token_count(text) <= self.embedder.max_tokens - 2:
            vectors = self.embedder.embed([text, *extra])
            return vectors[0], vectors[1:]
        whole = self.embedder.embed_windows(text).mean
        return whole, self.embedder.embed(extra) if extra else np.zeros((0, whole.shape[0]))

    def classify(self, text: str) -> IntentPrediction:
        """Route one message: safety floor, whole-message scores, and ordered segments."""
        if not text.strip():
            raise InputError("cannot route an empty message")
        segments = split_segments(text)
        whole, segment_vectors = self._embed(text, segments)
        whole_probs = self.head.predict_proba(self._features([text], whole[None, :]))[0]
        scores = {intent: float(p) for intent, p in zip(INTENTS, whole_probs, strict=True)}
        best = int(whole_probs.argmax())
        hit = self.lexicon.check(text)
        if hit is not None:
            return IntentPrediction(
                embedding=whole,
                scores=scores,
                intent=ESCALATE,
                confidence=1.0,
                segments=[SegmentPrediction(text, ESCALATE, 1.0)],
                safety_hit=True,
                safety_category=hit.category,
            )
        segment_probs = (
            self.head.predict_proba(self._features(segments, segment_vectors))
            if len(segments) > 1
            else whole_probs[None]
        )
        parts = [
            SegmentPrediction(seg, INTENTS[int(p.argmax())], float(p.max()))
            for seg, p in zip(segments, segment_probs, strict=True)
        ]
        escalations = [p.confidence for p in parts if p.intent == ESCALATE]
        if INTENTS[best] == ESCALATE:
            escalations.append(float(whole_probs[best]))
        if escalations:
            confidence = max(escalations)
            return IntentPrediction(
                embedding=whole,
                scores=scores,
                intent=ESCALATE,
                confidence=confidence,
                segments=[SegmentPrediction(text, ESCALATE, confidence)],
            )
        tasks = self._resolve(parts)
        if len({t.intent for t in tasks}) > 1:
            return IntentPrediction(
                embedding=whole,
                scores=scores,
                intent=tasks[0].intent,
                confidence=min(t.confidence for t in tasks),
                segments=tasks,
            )
        intent = INTENTS[best]
        confidence = float(whole_probs[best])
        return IntentPrediction(
            embedding=whole,
            scores=scores,
            intent=intent,
            confidence=confidence,
            segments=[SegmentPrediction(text, intent, confidence)],
        )

    def _resolve(self, parts: list[SegmentPrediction]) -> list[SegmentPrediction]:
        """Drop pleasantries, fold unsure pieces into the previous one, merge same-intent runs."""
        if any(p.intent != GENERAL for p in parts):
            parts = [p for p in parts if p.intent != GENERAL]
        tasks: list[SegmentPrediction] = []
        for part in parts:
            if tasks and (
                part.intent == tasks[-1].intent or part.confidence < self.min_segment_confidence
            ):
                last = tasks[-1]
                confidence = (
                    max(last.confidence, part.confidence)
                    if part.intent == last.intent
                    else last.confidence
                )
                tasks[-1] = SegmentPrediction(f"{last.text} {part.text}", last.intent, confidence)
            else:
                tasks.append(part)
        return tasks
