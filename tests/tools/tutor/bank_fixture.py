"""A small valid tutor bank written as YAML files, for tests independent of the real bank."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

CONCEPTS: list[tuple[str, str, str, list[str]]] = [
    ("projections", "Projections", "basics", []),
    ("image_quality", "Image quality", "basics", ["projections"]),
    ("silhouette_sign", "The silhouette sign", "reading", ["projections"]),
    ("pneumothorax", "Pneumothorax", "conditions", ["image_quality"]),
    ("sensitivity", "Sensitivity and specificity", "ml", []),
    ("ppv", "PPV and prevalence", "ml", ["sensitivity"]),
]

FILLER = (
    "A chest radiograph is a projection of three dimensional anatomy onto a flat detector, "
    "so every finding must be read against its expected outline and density. "
)


def concept_text(title: str) -> str:
    """About 100 words of curriculum text naming the concept."""
    return f"{title} is the subject of this unit. " + FILLER * 4


def concept_dicts() -> list[dict[str, Any]]:
    """The fixture's concepts as the YAML holds them."""
    return [
        {
            "id": cid,
            "title": title,
            "topic": topic,
            "prerequisites": pre,
            "text": concept_text(title),
            "key_points": [f"{title} key point one.", f"{title} key point two."],
        }
        for cid, title, topic, pre in CONCEPTS
    ]


def mcq(cid: str, difficulty: str, bloom: str = "recall") -> dict[str, Any]:
    """A multiple-choice question on `cid` whose correct choice is the second one (B)."""
    texts = [f"{cid} wrong {difficulty} {n}" for n in ("one", "two", "three")]
    right = f"{cid} right {difficulty}"
    choices = [
        {"text": texts[0], "correct": False, "rationale": "Not so, this is a distractor."},
        {"text": right, "correct": True, "rationale": "Yes, this follows from the key point."},
        {"text": texts[1], "correct": False, "rationale": "Not so, this confuses two ideas."},
        {"text": texts[2], "correct": False, "rationale": "Not so, the opposite holds."},
    ]
    return {
        "id": f"{cid}_{difficulty}_mcq",
        "kind": "mcq",
        "concepts": [cid],
        "bloom": bloom,
        "difficulty": difficulty,
        "stem": f"Which statement about {cid} is right ({difficulty})?",
        "choices": choices,
        "answer": right,
        "rubric_keywords": [],
        "explanation": f"The right statement follows from the {cid} unit.",
    }


def short(cid: str) -> dict[str, Any]:
    """A short free-text question on `cid`."""
    return {
        "id": f"{cid}_short",
        "kind": "short",
        "concepts": [cid],
        "bloom": "application",
        "difficulty": "medium",
        "stem": f"In one sentence, why does {cid} matter when reading a chest film?",
        "answer": "The lost border localises the opacity to the lobe that touches that border.",
        "rubric_keywords": ["border", "lobe"],
        "explanation": "An opacity touching a border erases it, which localises it.",
    }


def question_dicts() -> dict[str, list[dict[str, Any]]]:
    """The fixture's questions grouped by topic file name."""
    by_topic: dict[str, list[dict[str, Any]]] = {}
    for cid, _title, topic, _pre in CONCEPTS:
        items = [mcq(cid, "easy"), mcq(cid, "medium", "application"), mcq(cid, "hard", "analysis")]
        by_topic.setdefault(topic, []).extend([*items, short(cid)])
    return by_topic


def write_bank(
    root: Path,
    concepts: list[dict[str, Any]] | None = None,
    questions: dict[str, list[dict[str, Any]]] | None = None,
) -> Path:
    """Write concepts.yaml and questions/<topic>.yaml under `root`; return `root`."""
    (root / "questions").mkdir(parents=True, exist_ok=True)
    (root / "concepts.yaml").write_text(yaml.safe_dump(concepts or concept_dicts()), "utf-8")
    for topic, items in (questions or question_dicts()).items():
        (root / "questions" / f"{topic}.yaml").write_text(yaml.safe_dump(items), "utf-8")
    return root
