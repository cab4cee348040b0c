"""Scripted stand-ins for graph-logic tests that do not depend on language quality.

`ScriptedChatModel` replays fixed replies; `ScriptedClassifier` returns fixed predictions;
`ScriptedStructured` returns fixed structured outputs. Tests using them say so.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage
from pydantic import BaseModel

from agents.model_access import Endpoint, ModelAccess, Usage


class ScriptedChatModel(GenericFakeChatModel):
    """A chat model that streams scripted replies in order (LangChain's generic fake)."""

    @classmethod
    def replying(cls, replies: Iterable[str]) -> ScriptedChatModel:
        return cls(messages=iter([AIMessage(content=r) for r in replies]))


@dataclass
class ScriptedStructured:
    """Returns scripted objects per response model name and records every call."""

    replies: dict[str, list[BaseModel]]
    calls: list[tuple[str, str]] = field(default_factory=list)

    def __call__(self, role: str, response_model: type, messages: list[dict[str, str]]):
        self.calls.append((role, response_model.__name__))
        return self.replies[response_model.__name__].pop(0), Usage()


@dataclass(frozen=True)
class ScriptedSegment:
    text: str
    intent: str
    confidence: float


@dataclass(frozen=True)
class ScriptedPrediction:
    intent: str
    confidence: float
    segments: tuple[ScriptedSegment, ...] = ()
    safety_hit: bool = False
    scores: dict[str, float] = field(default_factory=dict)
    embedding: np.ndarray = field(default_factory=lambda: np.zeros(384, dtype=np.float32))


class ScriptedClassifier:
    """Maps exact message texts to scripted predictions."""

    def __init__(self, predictions: dict[str, ScriptedPrediction]) -> None:
        self.predictions = predictions

    def classify(self, text: str) -> ScriptedPrediction:
        p = self.predictions[text]
        if not p.scores:
            rest = (1.0 - p.confidence) / 5
            scores = {
                i: rest
                for i in ("radiology", "documents", "tutor", "policy", "general", "escalate")
            }
            scores[p.intent] = p.confidence
            return ScriptedPrediction(p.intent, p.confidence, p.segments, p.safety_hit, scores)
        return p


def scripted_access(
    replies: Iterable[str] = (), structured: ScriptedStructured | None = None, observer=None
):
    endpoint = Endpoint("composer", "http://scripted.invalid/v1", "MEDGRAPH_MODEL_BASE_URL", "s")
    model = ScriptedChatModel.replying(replies)
    return ModelAccess(
        endpoints={"composer": endpoint, "router": endpoint},
        chat_models={"composer": model, "router": model},
        structured=structured or ScriptedStructured({}),
        observer=observer,
    )
