"""Bank validation: ids, references, cycles, orphans, answerable questions (fixture bank)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from state.errors import AssetError
from tests.tools.tutor.bank_fixture import concept_dicts, mcq, question_dicts, write_bank
from tools.tutor.bank import Bank, load_bank


def _write(tmp_path: Path, concepts: list[dict[str, Any]], questions: dict[str, Any]) -> Path:
    return write_bank(tmp_path / "bad", concepts, questions)


def test_loads_fixture_bank_with_lookups_and_prerequisite_order(bank: Bank) -> None:
    assert len(bank.concepts) == 6
    assert len(bank.questions) == 24
    assert bank.concept("ppv").prerequisites == ("sensitivity",)
    assert bank.question("ppv_easy_mcq").correct_index == 1
    order = bank.topological_order()
    assert order.index("projections") < order.index("image_quality") < order.index("pneumothorax")
    assert bank.concept("silhouette_sign").citation == "[concept: silhouette_sign]"


def test_rejects_prerequisite_cycle(tmp_path: Path) -> None:
    concepts = concept_dicts()
    concepts[0]["prerequisites"] = ["pneumothorax"]
    with pytest.raises(AssetError, match="prerequisite cycle: projections -> pneumothorax"):
        load_bank(_write(tmp_path, concepts, question_dicts()))


def test_rejects_orphan_concept_without_questions(tmp_path: Path) -> None:
    questions = question_dicts()
    questions["ml"] = [q for q in questions["ml"] if q["concepts"] != ["ppv"]]
    with pytest.raises(AssetError, match=r"concepts with no question: \['ppv'\]"):
        load_bank(_write(tmp_path, concept_dicts(), questions))


def test_rejects_unknown_concept_reference(tmp_path: Path) -> None:
    questions = question_dicts()
    questions["ml"].append({**mcq("ppv", "easy"), "id": "stray", "concepts": ["nope"]})
    with pytest.raises(AssetError, match="unknown concepts"):
        load_bank(_write(tmp_path, concept_dicts(), questions))


def test_rejects_duplicate_question_ids(tmp_path: Path) -> None:
    questions = question_dicts()
    questions["ml"].append(mcq("ppv", "easy"))
    with pytest.raises(AssetError, match="duplicate question ids"):
        load_bank(_write(tmp_path, concept_dicts(), questions))


def test_rejects_mcq_with_two_correct_choices(tmp_path: Path) -> None:
    questions = question_dicts()
    questions["ml"][0]["choices"][0]["correct"] = True
    with pytest.raises(AssetError, match="2 correct choices"):
        load_bank(_write(tmp_path, concept_dicts(), questions))


def test_rejects_choice_without_rationale(tmp_path: Path) -> None:
    questions = question_dicts()
    del questions["ml"][0]["choices"][2]["rationale"]
    with pytest.raises(AssetError, match="rationale"):
        load_bank(_write(tmp_path, concept_dicts(), questions))


def test_rejects_short_question_without_rubric(tmp_path: Path) -> None:
    questions = question_dicts()
    questions["ml"][3]["rubric_keywords"] = []
    with pytest.raises(AssetError, match="needs rubric keywords"):
        load_bank(_write(tmp_path, concept_dicts(), questions))


def test_rejects_too_short_curriculum_text(tmp_path: Path) -> None:
    concepts = concept_dicts()
    concepts[1]["text"] = "Too short."
    with pytest.raises(AssetError, match="curriculum text has 2 words"):
        load_bank(_write(tmp_path, concepts, question_dicts()))


def test_missing_data_dir_is_an_asset_error(tmp_path: Path) -> None:
    with pytest.raises(AssetError, match="tutor curriculum not found"):
        load_bank(tmp_path / "absent")


def test_real_bank_loads_and_meets_the_size_bar() -> None:
    real = load_bank()
    assert len(real.concepts) >= 35 and len(real.questions) >= 200
    assert {c.topic for c in real.concepts} == {"basics", "reading", "conditions", "devices", "ml"}
