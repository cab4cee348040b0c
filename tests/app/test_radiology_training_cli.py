"""`medgraph radiology prepare|train|evaluate` end to end at toy size, mounted on a typer app."""

from __future__ import annotations

import json

import pytest
import typer
from typer.testing import CliRunner

from app.radiology_training_cli import evaluate, prepare, train
from app.settings import get_settings
from tests.tools.radiology.training_support import link_cache

runner = CliRunner()


def _text(output: str) -> str:
    """CLI output with rich's line wrapping undone."""
    return " ".join(output.split())


@pytest.fixture
def cli(settings, tmp_path, monkeypatch) -> typer.Typer:
    monkeypatch.setenv("MEDGRAPH_CACHE_DIR", str(link_cache(tmp_path / "cache")))
    get_settings.cache_clear()
    app = typer.Typer()
    app.command("prepare")(prepare)
    app.command("train")(train)
    app.command("evaluate")(evaluate)
    return app


def test_prepare_renders_pools_and_writes_the_patient_split(cli, tmp_path) -> None:
    splits = tmp_path / "splits.json"
    args = ["prepare", "--pool-size", "4", "--test-images", "2", "--splits-file", str(splits)]
    result = runner.invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "pairable with phantoms" in _text(result.output)
    ids = json.loads(splits.read_text())
    assert set(ids) == {"train", "validation", "test"}
    assert not set(ids["train"]) & set(ids["test"])
    assert list((get_settings().cache_dir / "radiology" / "pools").glob("*.pt"))


def test_train_then_evaluate_prints_model_and_baseline_side_by_side(cli, tmp_path) -> None:
    out = tmp_path / "model"
    trained = runner.invoke(
        cli,
        [
            "train",
            *("--preset", "tiny", "--from-scratch", "--steps", "1", "--batch-size", "4"),
            *("--pool-size", "4", "--out", str(out), "--threads", "1"),
        ],
    )
    assert trained.exit_code == 0, trained.output
    assert "Trained on synthetic phantoms" in _text(trained.output)
    assert "backbones from random init" in _text(trained.output)
    report = tmp_path / "eval.json"
    scored = runner.invoke(
        cli,
        [
            "evaluate",
            *("--checkpoint", str(out), "--n", "2", "--max-new-tokens", "20"),
            *("--threads", "1", "--json", str(report)),
        ],
    )
    assert scored.exit_code == 0, scored.output
    output = _text(scored.output)
    for field in ("BLEU-1", "BLEU-4", "ROUGE-L", "METEOR", "clinical micro F1", "phantom macro"):
        assert field in output
    assert "most-frequent-report baseline" in output and "synthetic phantoms" in output
    assert "aux head F1" in output
    saved = json.loads(report.read_text())
    assert saved["images"] == 2 and saved["baseline"]["name"] == "baseline"
    assert saved["aux_head"]["threshold"] == 0.5


def test_a_later_phase_without_an_earlier_checkpoint_fails_with_a_clear_message(cli) -> None:
    result = runner.invoke(cli, ["train", "--phase", "2", "--preset", "tiny"])
    assert result.exit_code != 0
    assert "train --phase 1 first" in _text(result.output)


def test_evaluating_a_missing_checkpoint_fails_with_a_clear_message(cli, tmp_path) -> None:
    result = runner.invoke(cli, ["evaluate", "--checkpoint", str(tmp_path / "nothing")])
    assert result.exit_code != 0
    assert "not a radiology checkpoint" in _text(result.output)
