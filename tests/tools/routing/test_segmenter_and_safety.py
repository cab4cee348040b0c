"""Segmentation cues and the deterministic safety lexicon, without a model."""

from __future__ import annotations

import pytest

from tools.routing.safety_lexicon import SafetyLexicon
from tools.routing.segmenter import has_cues, split_segments


def test_splits_on_conjunction_and_sentence_cues_in_order() -> None:
    assert split_segments("draft a report for this x-ray and then quiz me on effusions") == [
        "draft a report for this x-ray",
        "quiz me on effusions",
    ]
    assert split_segments("Read this film. Also, can I email it to the GP?") == [
        "Read this film.",
        "can I email it to the GP?",
    ]


def test_message_without_cues_is_one_segment() -> None:
    text = "is there a pleural effusion on the film I attached"
    assert not has_cues(text)
    assert split_segments(text) == [text]


def test_short_pieces_join_their_neighbour() -> None:
    assert split_segments("Hi! Please read the attached chest film for me") == [
        "Hi! Please read the attached chest film for me"
    ]


LEXICON = SafetyLexicon()


@pytest.mark.parametrize(
    "text",
    [
        "i honestly want to die",
        "I'm thinking of killing myself this weekend",
        "my flatmate took a load of tablets and is drowsy",
        "my stepfather hits me when he's angry",
        "I will stab my manager tomorrow",
        "my dad can't breathe and his lips are going blue",
        "I think I'm having a stroke, my face is drooping",
        "quiz me on effusions and then I'll end it all",
        "I'm so suicidal",
    ],
)
def test_crisis_messages_hit_the_lexicon(text: str) -> None:
    hit = LEXICON.check(text)
    assert hit is not None and hit.tier == "crisis"


@pytest.mark.parametrize(
    "text",
    [
        "Teach me pneumothorax emergency management in the tutor curriculum",
        "what does my uploaded protocol say about overdose management",
        "quiz me on the chest x-ray signs of a stroke patient's aspiration",
        "explain suicide risk screening questions for my psychiatry module",
        "is it allowed to discuss abuse cases in the teaching file if redacted",
        "the app is not responding, how do I restart it",
        "is there a collapsed lobe on this radiograph",
        "why is the heatmap blue in the left lung",
        "how do I kill the process that hangs the server",
    ],
)
def test_clinical_and_everyday_phrasing_does_not_hit_the_lexicon(text: str) -> None:
    assert LEXICON.check(text) is None


def test_topic_word_without_study_frame_still_escalates() -> None:
    hit = LEXICON.check("suicide")
    assert hit is not None and hit.tier == "topic"
