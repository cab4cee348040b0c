"""The supervisor's hybrid router: embedding classifier first, an LLM check in the middle band.

Usage:
    router = SupervisorRouter(classifier, RoutingThresholds(0.85, 0.65, 0.03), verifier)
    plan = router.route("draft a report for this film and quiz me on effusions")
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

import numpy as np
from langchain_core.messages import HumanMessage, SystemMessage
from pydantic import BaseModel, Field, create_model

from agents.model_access import ModelAccess
from agents.registry import CAPABILITIES
from state.errors import ModelEndpointError
from state.schema import INTENTS, Intent, RoutePlan, RouteTask

logger = logging.getLogger(__name__)

CLINICAL_INTENTS: frozenset[Intent] = frozenset({"radiology"})


class Segment(Protocol):
    """One clause of a message and its predicted intent."""

    text: str
    intent: str
    confidence: float


class Prediction(Protocol):
    """What the embedding classifier returns for one message."""

    embedding: np.ndarray
    scores: dict[str, float]
    intent: str
    confidence: float
    segments: Sequence[Segment]
    safety_hit: bool


class Classifier(Protocol):
    """The fast embedding classifier over intent exemplars."""

    def classify(self, text: str) -> Prediction: ...


@dataclass(frozen=True)
class RoutingThresholds:
    """Confidence bands: route, verify with an LLM, or ask; clinical routes are stricter."""

    direct: float
    verify: float
    clinical_margin: float

    def for_intent(self, intent: Intent) -> tuple[float, float]:
        """(direct, verify) thresholds for `intent`."""
        margin = self.clinical_margin if intent in CLINICAL_INTENTS else 0.0
        return min(1.0, self.direct + margin), min(1.0, self.verify + margin)


def route_decision_model(candidates: Sequence[Intent]) -> type[BaseModel]:
    """A `RouteDecision` schema whose `intent` enum is only the candidates and `unclear`.

    Constrained decoding then cannot wander to an intent the classifier did not propose, which
    matters for a small model that otherwise picks options by position.
    """
    choices = Literal[tuple([*candidates, "unclear"])]  # type: ignore[valid-type]
    return create_model(
        "RouteDecision",
        intent=(choices, Field(description="which assistant should handle the message")),
    )


Verifier = Callable[[str, list[Intent]], Intent | None]


def llm_verifier(access: ModelAccess) -> Verifier:
    """A verifier that asks the router model for a `RouteDecision` among the candidates."""

    def verify(text: str, candidates: list[Intent]) -> Intent | None:
        options = "\n".join(f"- {c}: {CAPABILITIES[c]}" for c in candidates)
        messages = [
            SystemMessage(
                "You route messages for a clinical assistant. Choose which assistant should "
                f"handle the user's message, or 'unclear'.\nAssistants:\n{options}"
            ),
            HumanMessage(text),
        ]
        decision = access.structured("router", route_decision_model(candidates), messages)
        intent = getattr(decision, "intent", None)
        return intent if intent in candidates else None

    return verify


CLARIFY_PHRASES: dict[Intent, str] = {
    "radiology": "look at a chest X-ray (draft a report or answer a question about an image)",
    "documents": "look something up in your documents",
    "tutor": "teach or quiz you on a chest radiology or medical-AI topic",
    "policy": "check what our clinical-AI and data-handling policies say",
    "general": "tell you what MedGraph can do",
}


def clarifying_question(candidates: Sequence[Intent]) -> str:
    """A short question offering the most likely readings of an unclear message."""
    options = [CLARIFY_PHRASES[c] for c in candidates if c in CLARIFY_PHRASES][:2]
    if len(options) < 2:
        options = [CLARIFY_PHRASES[c] for c in ("documents", "tutor")]
    return (
        f"I want to send this to the right place. Should I {options[0]}, or {options[1]}? "
        "A few more words about what you need will help."
    )


class SupervisorRouter:
    """Turns one user message into a `RoutePlan`."""

    def __init__(
        self,
        classifier: Classifier,
        thresholds: RoutingThresholds,
        verifier: Verifier | None,
    ) -> None:
        self._classifier = classifier
        self._thresholds = thresholds
        self._verifier = verifier

    def route(self, text: str) -> RoutePlan:
        """Classify, then route directly, verify, fan out, escalate or ask."""
        prediction = self._classifier.classify(text)
        scores = {k: round(float(v), 4) for k, v in prediction.scores.items()}
        if prediction.safety_hit or prediction.intent == "escalate":
            return RoutePlan(
                tasks=[RouteTask(intent="escalate", text=text, confidence=1.0)],
                method="safety" if prediction.safety_hit else "embedding",
                confidence=1.0 if prediction.safety_hit else prediction.confidence,
                scores=scores,
            )
        fan_out = self._fan_out(prediction)
        if fan_out:
            return RoutePlan(
                tasks=fan_out,
                method="embedding",
                confidence=min(t.confidence for t in fan_out),
                scores=scores,
            )
        intent = _as_intent(prediction.intent)
        direct, verify = self._thresholds.for_intent(intent)
        if prediction.confidence >= direct:
            return self._single(intent, text, prediction.confidence, "embedding", scores)
        ranked = [_as_intent(k) for k, _ in sorted(scores.items(), key=lambda kv: -kv[1])]
        candidates = [c for c in ranked if c != "escalate"][:2]
        if prediction.confidence >= verify and self._verifier is not None:
            try:
                verified = self._verifier(text, candidates)
            except ModelEndpointError as exc:
                logger.warning("route_verify_failed error=%s", exc.__class__.__name__)
                verified = None
            if verified is not None:
                return self._single(verified, text, prediction.confidence, "llm", scores)
        return RoutePlan(
            tasks=[],
            method="clarify",
            confidence=prediction.confidence,
            scores=scores,
            clarify_question=clarifying_question(candidates),
        )

    def _fan_out(self, prediction: Prediction) -> list[RouteTask]:
        """One task per confident segment when segments name two or more distinct intents."""
        tasks: list[RouteTask] = []
        for segment in prediction.segments:
            intent = _as_intent(segment.intent)
            _, verify = self._thresholds.for_intent(intent)
            if segment.confidence >= verify:
                tasks.append(
                    RouteTask(intent=intent, text=segment.text, confidence=segment.confidence)
                )
        if len({t.intent for t in tasks}) < 2:
            return []
        return tasks

    @staticmethod
    def _single(
        intent: Intent,
        text: str,
        confidence: float,
        method: Literal["embedding", "llm"],
        scores: dict[str, float],
    ) -> RoutePlan:
        return RoutePlan(
            tasks=[RouteTask(intent=intent, text=text, confidence=confidence)],
            method=method,
            confidence=confidence,
            scores=scores,
        )


def _as_intent(name: str) -> Intent:
    if name not in INTENTS:
        raise ValueError(f"classifier returned an unknown intent {name!r}")
    return name  # type: ignore[return-value]
