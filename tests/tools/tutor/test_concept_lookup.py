"""Finding concepts from a learner's phrase: titles, ids, acronyms, topics, distinctive words."""

from __future__ import annotations

import pytest

from tools.tutor.bank import Bank
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
