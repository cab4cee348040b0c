"""`/image` in the chat and `ask --image` through typer's runner, on the real runtime.

Everything is real (router, guards, graph, radiology service on a tiny random-weight
checkpoint) except the composer endpoint, which is unreachable: report requests need no
composer, and finding questions must then fall back to the report's own reading.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from app.cli import app
from app.settings import Settings, get_settings
from tests.tools.radiology.checkpoint_support import write_tiny_checkpoint
from tests.tools.radiology.phantom_support import lung_masks
from tools.guards.clinical_safety import REVIEW_NOTICE
from tools.radiology.phantoms import write_phantom

runner = CliRunner()
ENV = {"COLUMNS": "200"}


@pytest.fixture
def chat_env(settings: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.setenv("MEDGRAPH_MODEL_BASE_URL", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("MEDGRAPH_RADIOLOGY_CHECKPOINT", str(write_tiny_checkpoint(tmp_path / "m")))
    monkeypatch.setenv("MEDGRAPH_RADIOLOGY_MAX_NEW_TOKENS", "24")
    get_settings.cache_clear()
    return write_phantom(
        "cardiomegaly", tmp_path / "my film.png", seed=3, size=160, masks=lung_masks()
    )


def test_chat_image_command_reports_answers_and_survives_bad_files(
    chat_env: Path, tmp_path: Path
) -> None:
    broken = tmp_path / "broken.png"
    broken.write_bytes(chat_env.read_bytes()[:120])
    lines = [
        f'/image "{chat_env}"',
        f'/image "{chat_env}" Is the heart enlarged?',
        f"/image {tmp_path / 'missing.png'}",
        f"/image {broken}",
        "/image",
        "/quit",
    ]
    result = runner.invoke(app, ["chat"], input="\n".join(lines) + "\n", env=ENV)
    assert result.exit_code == 0, result.output
    out = " ".join(result.output.split())  # rich wraps long lines
    assert out.count("Attached my film.png") == 2
    assert out.count("→ radiology") == 3
    assert out.count("Draft report for the attached image:") == 2
    assert "Q: Is the heart enlarged?" in out
    assert "gave no valid answer to the three phrasings" in out
    assert "missing.png is not a readable file" in out
    assert "I could not read the attached image" in out
    assert "usage: /image PATH [question]" in out
    assert out.count(REVIEW_NOTICE) == 3
    assert out.rstrip().endswith("Bye.")


def test_ask_with_an_image_answers_from_radiology(chat_env: Path) -> None:
    result = runner.invoke(
        app, ["ask", "Draft a report.", "--image", str(chat_env), "--json"], env=ENV
    )
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    (answer,) = payload["answers"]
    assert answer["agent"] == "radiology"
    assert "Draft report for the attached image:" in answer["text"]
    assert "synthetic chest phantoms" in answer["text"]
