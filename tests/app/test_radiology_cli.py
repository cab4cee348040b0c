"""`medgraph radiology phantom|generate|visualize` through typer's runner, on real phantom films.

The checkpoint is a tiny random-weight model (`checkpoint_support`), named by
MEDGRAPH_RADIOLOGY_CHECKPOINT, with reports cut at 24 tokens to keep the tests fast.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner

import app.radiology_cli as radiology_cli
from app.cli import app
from app.settings import Settings, get_settings
from tests.tools.radiology.checkpoint_support import TEST_MODEL_ID, write_tiny_checkpoint
from tools.radiology.report_schema import PHANTOM_NOTICE
from tools.radiology.service import demo_checkpoint_dir

runner = CliRunner()
ENV = {"COLUMNS": "200"}


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_checkpoint(tmp_path_factory.mktemp("ckpt") / "tiny")


@pytest.fixture
def rad_settings(settings: Settings, monkeypatch: pytest.MonkeyPatch, checkpoint: Path) -> Settings:
    monkeypatch.setenv("MEDGRAPH_RADIOLOGY_CHECKPOINT", str(checkpoint))
    monkeypatch.setenv("MEDGRAPH_RADIOLOGY_MAX_NEW_TOKENS", "24")
    get_settings.cache_clear()
    return get_settings()


def _phantom(out: Path, findings: str = "cardiomegaly,effusion_left") -> Path:
    result = runner.invoke(
        app,
        ["radiology", "phantom", "--findings", findings, "--size", "160", str(out)],
        env=ENV,
    )
    assert result.exit_code == 0, result.output
    return out


def test_phantom_command_writes_the_film_and_refuses_unknown_findings(
    rad_settings: Settings, tmp_path: Path
) -> None:
    film = _phantom(tmp_path / "film.png")
    with Image.open(film) as image:
        assert image.size == (160, 160) and image.mode == "L"
    bad = runner.invoke(
        app, ["radiology", "phantom", "--findings", "tumour", str(tmp_path / "x.png")], env=ENV
    )
    assert bad.exit_code == 2 and "error:" in bad.output


def test_generate_json_prints_the_whole_report(rad_settings: Settings, tmp_path: Path) -> None:
    film = _phantom(tmp_path / "film.png")
    result = runner.invoke(app, ["radiology", "generate", str(film), "--json"], env=ENV)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["model_id"] == TEST_MODEL_ID and report["phantom_trained"] is True
    assert len(report["aux_probabilities"]) == 14 and len(report["attention_maps"]) == 20
    assert PHANTOM_NOTICE in report["notice"]
    heatmaps = rad_settings.resolved_radiology_output_dir / "heatmaps"
    assert all(Path(m["path"]).parent.parent == heatmaps for m in report["attention_maps"])


def test_generate_prints_the_report_and_refuses_a_corrupt_file(
    rad_settings: Settings, tmp_path: Path
) -> None:
    film = _phantom(tmp_path / "film.png")
    result = runner.invoke(app, ["radiology", "generate", str(film)], env=ENV)
    assert result.exit_code == 0, result.output
    for expected in ("Findings:", "Impression:", "Cardiomegaly", "Visual gate", "synthetic"):
        assert expected in result.output
    broken = tmp_path / "broken.png"
    broken.write_bytes(film.read_bytes()[:100])
    failed = runner.invoke(app, ["radiology", "generate", str(broken)], env=ENV)
    assert failed.exit_code == 2 and "error:" in failed.output and "broken.png" in failed.output


def test_visualize_writes_the_grid_figure(rad_settings: Settings, tmp_path: Path) -> None:
    film = _phantom(tmp_path / "film.png")
    out = tmp_path / "figs" / "grid.png"
    result = runner.invoke(app, ["radiology", "visualize", str(film), "--out", str(out)], env=ENV)
    assert result.exit_code == 0, result.output
    assert "attention grid:" in result.output
    with Image.open(out) as grid:
        assert grid.size[0] > 1200


def test_without_a_checkpoint_generate_offers_to_build_the_demo_model(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, checkpoint: Path
) -> None:
    """The demo training itself (15 minutes) is replaced by copying the tiny checkpoint."""
    film = _phantom(tmp_path / "film.png")
    monkeypatch.setenv("MEDGRAPH_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("MEDGRAPH_RADIOLOGY_MAX_NEW_TOKENS", "24")
    monkeypatch.setattr("tools.radiology.service.DEMO_MODEL_DIR", tmp_path / "no-packaged-model")
    get_settings.cache_clear()
    built: list[Path] = []

    def build(settings: Settings) -> Path:
        target = demo_checkpoint_dir(settings.cache_dir)
        built.append(write_tiny_checkpoint(target))
        return target

    monkeypatch.setattr(radiology_cli, "build_demo_model", build)
    declined = runner.invoke(app, ["radiology", "generate", str(film)], input="n\n", env=ENV)
    assert declined.exit_code == 3
    assert "medgraph radiology train --demo" in declined.output and not built
    accepted = runner.invoke(app, ["radiology", "generate", str(film)], input="y\n", env=ENV)
    assert accepted.exit_code == 0, accepted.output
    assert built == [demo_checkpoint_dir(tmp_path / "cache")]
    assert "Findings:" in accepted.output


def test_radiology_app_mounts_the_training_commands() -> None:
    listing = runner.invoke(app, ["radiology", "--help"], env=ENV)
    for command in ("prepare", "train", "evaluate", "generate", "visualize", "phantom"):
        assert command in listing.output
    train = runner.invoke(app, ["radiology", "train", "--help"], env=ENV)
    assert train.exit_code == 0 and "--demo" in train.output
    assert "--decoder-polish" in train.output and "--vision-warmup" in train.output
    negative = runner.invoke(app, ["radiology", "train", "--decoder-polish", "-1"], env=ENV)
    assert negative.exit_code == 2 and "decoder-polish" in negative.output
