"""The eval datasets: recorded in the manifest at their current content, valid, and big enough."""

from __future__ import annotations

from collections import Counter

import pytest
from pydantic import ValidationError

from evals.datasets import DATA_DIR, dataset, load_jsonl, load_manifest, parse_jsonl
from evals.radiology_cases import CASES, PhantomCase
from evals.rubric import load_rubrics
from evals.suites.conversations import Conversation
from evals.suites.judge import CalibrationItem
from state.errors import ConfigError


@pytest.mark.parametrize("name", sorted(load_manifest().datasets))
def test_every_dataset_file_matches_its_manifest_entry(name: str) -> None:
    ref, path = dataset(name)
    assert path.parent == DATA_DIR
    assert ref.items == sum(1 for line in path.read_text("utf-8").splitlines() if line.strip())


def test_every_jsonl_file_is_in_the_manifest() -> None:
    listed = {e.file for e in load_manifest().datasets.values()}
    unlisted = sorted({p.name for p in DATA_DIR.glob("*.jsonl")} - listed)
    assert not unlisted, f"run `python -m evals.datasets refresh` to version {unlisted}"


def test_a_changed_file_is_refused_until_its_version_is_bumped(tmp_path) -> None:
    manifest = tmp_path / "manifest.yaml"
    manifest.write_text((DATA_DIR / "manifest.yaml").read_text())
    (tmp_path / "routing.jsonl").write_text((DATA_DIR / "routing.jsonl").read_text() + "\n{}\n")
    with pytest.raises(ConfigError, match="changed since version"):
        dataset("routing", manifest)


def test_conversations_are_many_multi_turn_and_cross_agents() -> None:
    _, conversations = load_jsonl("conversations", Conversation)
    assert len(conversations) >= 30
    assert len({c.id for c in conversations}) == len(conversations)
    assert all(len(c.turns) >= 2 for c in conversations)
    routes = Counter(i for c in conversations for t in c.turns for i in t.intents)
    assert set(routes) == {"radiology", "documents", "tutor", "policy", "general", "escalate"}
    assert sum(t.image for c in conversations for t in c.turns) >= 10
    assert sum(t.blocked for c in conversations for t in c.turns) >= 3


def test_the_calibration_set_covers_every_rubric_with_spread_scores() -> None:
    _, items = load_jsonl("judge_calibration", CalibrationItem)
    assert len(items) >= 40
    per_rubric = Counter(i.rubric for i in items)
    assert set(per_rubric) == set(load_rubrics())
    assert min(per_rubric.values()) >= 10
    assert set(Counter(i.human for i in items)) == {1, 2, 3, 4, 5}
    with_sources = [i for i in items if i.rubric == "faithfulness"]
    assert all(i.sources for i in with_sources)


def test_an_invalid_row_names_its_line(tmp_path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"id": "c1", "title": "t", "about": "a", "turns": []}\n')
    with pytest.raises(ConfigError, match=r"bad\.jsonl line 1"):
        parse_jsonl(path, Conversation)


def test_radiology_cases_cover_normal_and_abnormal_films_with_matching_reports() -> None:
    _, cases = load_jsonl("radiology_phantoms", PhantomCase)
    assert len(cases) == CASES and len({c.id for c in cases}) == CASES
    assert any(c.findings == "normal" for c in cases)
    assert sum(c.findings != "normal" for c in cases) >= CASES // 2


def test_a_radiology_case_whose_report_disagrees_with_its_findings_is_refused() -> None:
    with pytest.raises(ValidationError, match="the report states"):
        PhantomCase(
            id="x",
            findings="cardiomegaly",
            seed=1,
            report_uid="1",
            reference="Findings: Heart size normal. Lungs clear. | Impression: Normal chest.",
        )
