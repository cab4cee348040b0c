"""`medgraph ingest` and `medgraph docs list|show|delete` on a temporary data directory."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from typer.testing import CliRunner

from app import docs_cli
from app.docs_cli import docs_app, ingest
from tests.tools.rag.corpus import DEMO_CORPUS

runner = CliRunner()


def _ingest_app() -> typer.Typer:
    app = typer.Typer()
    app.command()(ingest)
    return app


def test_ingest_list_show_delete_round_trip(settings, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(docs_cli, "console", Console(width=200))
    bad = tmp_path / "bad.pdf"
    bad.write_bytes(b"%PDF-1.4 broken")
    result = runner.invoke(_ingest_app(), [str(DEMO_CORPUS), str(bad), "-c", "demo"])
    assert result.exit_code == 2, result.output  # one file failed: InputError's exit code
    assert "2 added" in result.output and "1 failed" in result.output

    listed = runner.invoke(docs_app, ["list"])
    assert listed.exit_code == 0
    assert "chest_radiograph_guide.md" in listed.output
    assert "imaging_protocol_notes.html" in listed.output

    shown = runner.invoke(docs_app, ["show", "chest_radiograph_guide.md", "-c", "demo"])
    assert shown.exit_code == 0 and "§4.1 Pleural effusion" in shown.output

    deleted = runner.invoke(docs_app, ["delete", "imaging_protocol_notes.html", "-c", "demo"])
    assert deleted.exit_code == 0 and "Deleted" in deleted.output
    assert "imaging_protocol_notes.html" not in runner.invoke(docs_app, ["list"]).output
    assert runner.invoke(docs_app, ["delete", "nope.md", "-c", "demo"]).exit_code == 2
