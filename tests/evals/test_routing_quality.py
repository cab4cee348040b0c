"""Routing quality on the held-out eval set with the real (int8, traced) MiniLM embedder."""

from __future__ import annotations

import re
from collections import Counter
from importlib import resources

import pytest
from rich.console import Console

from evals.routing import RoutingReport, evaluate, load_routing_set, render
from state.schema import INTENTS
from tools.models.embedder import MiniLMEmbedder
from tools.routing.intent_classifier import IntentClassifier, load_exemplars


def _normalise(text: str) -> str:
    return " ".join(re.findall(r"[a-z0-9]+", text.lower()))


@pytest.fixture(scope="module")
def report() -> RoutingReport:
    classifier = IntentClassifier.from_default(MiniLMEmbedder.load("cpu"))
    return evaluate(classifier, load_routing_set())


def test_eval_set_is_large_balanced_and_held_out_from_the_exemplars() -> None:
    items = load_routing_set()
    assert len(items) >= 200
    per_intent = Counter(intent for item in items for intent in item.intents)
    assert all(per_intent[intent] >= 25 for intent in INTENTS), per_intent
    assert sum(len(item.intents) > 1 for item in items) >= 25
    text = resources.files("tools.routing").joinpath("exemplars.yaml").read_text("utf-8")
    exemplars = {_normalise(t) for texts in load_exemplars(text).values() for t in texts}
    assert not [item.id for item in items if _normalise(item.text) in exemplars]


def test_routing_meets_the_quality_bar(
    report: RoutingReport, capsys: pytest.CaptureFixture[str]
) -> None:
    with capsys.disabled():
        render(report, Console(width=140), title="Routing eval (int8+traced MiniLM)")
    assert report.macro_f1 >= 0.95
    assert report.escalate_recall == 1.0
