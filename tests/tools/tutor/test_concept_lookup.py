"""Finding concepts from a learner's phrase: titles, ids, acronyms, topics, distinctive words."""

from __future__ import annotations

import pytest

from tools.tutor.bank import Bank, load_bank
from tools.tutor.concept_lookup import ConceptIndex


@pytest.mark.parametrize(
    ("phrase", "expected"),
    [
        ("quiz me on pneumothorax", ["pneumothorax"]),
        ("explain the silhouette sign", ["silhouette_sign"]),
        ("PPV", ["ppv"]),
        ("specificity", ["sensitivity"]),
        ("machine learning", ["sensitivity", "ppv"]),
        ("the basics", ["projections", "image_quality"]),
        ("image quality", ["image_quality"]),
        ("silhouetting", ["silhouette_sign"]),
        ("unicorns", []),
        ("", []),
    ],
)
def test_finds_concepts_named_by_a_phrase(bank: Bank, phrase: str, expected: list[str]) -> None:
    assert ConceptIndex(bank).find(phrase) == expected


def test_topics_line_lists_what_is_taught(bank: Bank) -> None:
    line = ConceptIndex(bank).topics()
    assert line.startswith("basics (e.g. Projections, Image quality)")
    assert "ml (e.g. Sensitivity and specificity, PPV and prevalence)" in line


@pytest.mark.parametrize(
    ("phrase", "expected"),
    [
        ("Explain how a pneumothorax looks on a chest X-ray", ["pneumothorax"]),
        ("what does a chest drain look like on the film?", ["chest_drain"]),
        ("show me pleural effusion on a radiograph", ["pleural_effusion"]),
        ("how do fractures appear on a chest radiograph", ["fracture"]),
        ("chest x-ray", []),
    ],
)
def test_words_of_the_setting_do_not_hide_the_concept_named(
    phrase: str, expected: list[str]
) -> None:
    assert ConceptIndex(load_bank()).find(phrase) == expected
