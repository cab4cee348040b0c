"""The embedding intent classifier: segments, safety floor, scores, determinism, embedding reuse."""

from __future__ import annotations

import time

import numpy as np
import pytest

from state.errors import ConfigError, InputError
from state.schema import INTENTS
from tools.models.embedder import MiniLMEmbedder
from tools.models.registry import ModelRegistry
from tools.routing.intent_classifier import IntentClassifier, load_exemplars
from tools.routing.softmax_head import HeadConfig, SoftmaxHead


@pytest.fixture(scope="module")
def embedder() -> MiniLMEmbedder:
    return ModelRegistry("cpu").get("minilm", MiniLMEmbedder.load)


@pytest.fixture(scope="module")
def classifier(embedder: MiniLMEmbedder) -> IntentClassifier:
    return IntentClassifier.from_default(embedder)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "draft a report for this x-ray and then quiz me on effusions",
            ["radiology", "tutor"],
        ),
        (
            "quiz me on effusions, then draft a report for the x-ray I attached",
            ["tutor", "radiology"],
        ),
        (
            "What does my uploaded sepsis protocol say about lactate? "
            "Also, am I allowed to email it to a colleague outside the hospital?",
            ["documents", "policy"],
        ),
    ],
)
def test_multi_intent_messages_fan_out_in_the_order_asked(
    classifier: IntentClassifier, text: str, expected: list[str]
) -> None:
    prediction = classifier.classify(text)
    assert [s.intent for s in prediction.segments] == expected
    assert prediction.multi_intent
    assert prediction.intent == expected[0]
    assert prediction.confidence == min(s.confidence for s in prediction.segments)
    assert all(s.text in text for s in prediction.segments)


def test_single_intent_message_is_one_segment(classifier: IntentClassifier) -> None:
    text = "Is the endotracheal tube too high on the film I uploaded?"
    prediction = classifier.classify(text)
    assert prediction.intent == "radiology"
    assert [(s.text, s.intent) for s in prediction.segments] == [(text, "radiology")]
    assert not prediction.multi_intent and not prediction.safety_hit


def test_scores_cover_every_intent_and_sum_to_one(classifier: IntentClassifier) -> None:
    prediction = classifier.classify("can I export the audit log for my research project?")
    assert set(prediction.scores) == set(INTENTS)
    assert sum(prediction.scores.values()) == pytest.approx(1.0, abs=1e-9)
    assert all(0.0 <= v <= 1.0 for v in prediction.scores.values())
    assert prediction.confidence == pytest.approx(max(prediction.scores.values()))
    assert prediction.intent == "policy"


def test_safety_layer_forces_escalate_even_inside_a_multi_intent_message(
    classifier: IntentClassifier,
) -> None:
    text = "read my x-ray and then quiz me on effusions, after that I plan to kill myself"
    prediction = classifier.classify(text)
    assert prediction.safety_hit and prediction.safety_category == "self_harm"
    assert (prediction.intent, prediction.confidence) == ("escalate", 1.0)
    assert [(s.intent, s.confidence) for s in prediction.segments] == [("escalate", 1.0)]


def test_teaching_question_about_an_emergency_is_not_escalated(
    classifier: IntentClassifier,
) -> None:
    prediction = classifier.classify(
        "Teach me pneumothorax emergency management as covered in the tutor curriculum"
    )
    assert not prediction.safety_hit
    assert prediction.intent == "tutor"


def test_classification_is_deterministic_across_calls_and_instances(
    embedder: MiniLMEmbedder, classifier: IntentClassifier
) -> None:
    text = "what does the protocol I uploaded say about chest drain removal"
    first, second = classifier.classify(text), classifier.classify(text)
    assert first.scores == second.scores
    np.testing.assert_array_equal(first.embedding, second.embedding)
    rebuilt = IntentClassifier.from_default(embedder)
    np.testing.assert_array_equal(rebuilt.head.weight, classifier.head.weight)
    assert rebuilt.head.temperature == classifier.head.temperature
    assert rebuilt.classify(text).scores == first.scores


def test_prediction_carries_the_whole_message_embedding(
    embedder: MiniLMEmbedder, classifier: IntentClassifier
) -> None:
    text = "Generate the report for this CXR, then explain how the heatmap is computed."
    prediction = classifier.classify(text)
    assert prediction.embedding.shape == (384,) and prediction.embedding.dtype == np.float32
    np.testing.assert_allclose(prediction.embedding, embedder.embed_one(text), atol=1e-6)


def test_long_message_embedding_is_the_window_mean(
    embedder: MiniLMEmbedder, classifier: IntentClassifier
) -> None:
    text = "Please summarise what my uploaded guideline says about chest drains. " * 40
    assert embedder.token_count(text) > embedder.max_tokens
    prediction = classifier.classify(text)
    np.testing.assert_allclose(prediction.embedding, embedder.embed_windows(text).mean, atol=1e-6)


def test_empty_message_is_an_input_error(classifier: IntentClassifier) -> None:
    with pytest.raises(InputError):
        classifier.classify("   ")


def test_exemplars_must_name_every_intent() -> None:
    with pytest.raises(ConfigError):
        load_exemplars("radiology: [read this film]\n")


def test_head_fit_is_deterministic_and_fast() -> None:
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(len(INTENTS)), 50)
    centres = rng.normal(size=(len(INTENTS), 384 + 2048))
    features = centres[labels] + rng.normal(scale=2.0, size=(len(labels), 384 + 2048))
    features /= np.linalg.norm(features, axis=1, keepdims=True)  # unit rows, like embeddings
    started = time.perf_counter()
    head = SoftmaxHead.fit(features, labels, len(INTENTS), HeadConfig())
    elapsed = time.perf_counter() - started
    again = SoftmaxHead.fit(features, labels, len(INTENTS), HeadConfig())
    np.testing.assert_array_equal(head.weight, again.weight)
    assert head.temperature == again.temperature > 0.0
    assert elapsed < 5.0  # 5 fold fits + 1 final: ~1 s on 2 cores under load 5; loose for CI
