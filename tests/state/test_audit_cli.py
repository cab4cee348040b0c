"""The `medgraph audit` sub-app: tail, show, verify (exit 1 when broken) and export."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from app.audit_cli import audit_app
from app.settings import get_settings
from state.audit import AuditEvent, open_audit

runner = CliRunner()


@pytest.fixture
def audit_url(settings, monkeypatch, tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'cli' / 'audit.sqlite'}"
    monkeypatch.setenv("MEDGRAPH_AUDIT_URL", url)
    get_settings.cache_clear()
    with open_audit(url) as audit:
        for i in range(5):
            audit.record(
                AuditEvent(
                    event_type="tool_call" if i % 2 else "route",
                    tenant="t",
                    user="u",
                    thread="th-a" if i < 3 else "th-b",
                    node="router",
                    payload={"i": i},
                )
            )
    return url


def test_tail_shows_the_last_rows(audit_url):
    result = runner.invoke(audit_app, ["tail", "-n", "2"])
    assert result.exit_code == 0, result.output
    assert "last 2 audit rows" in result.output


def test_show_lists_one_thread(audit_url):
    result = runner.invoke(audit_app, ["show", "th-b"])
    assert result.exit_code == 0, result.output
    assert "th-b" in result.output and "th-a" not in result.output


def test_verify_passes_then_fails_with_the_broken_row(audit_url):
    ok = runner.invoke(audit_app, ["verify"])
    assert ok.exit_code == 0 and "5 rows verified" in ok.output
    conn = sqlite3.connect(audit_url[len("sqlite:///") :], isolation_level=None)
    conn.execute("DROP TRIGGER audit_log_no_update")
    conn.execute("UPDATE audit_log SET node = 'forged' WHERE id = 4")
    conn.close()
    broken = runner.invoke(audit_app, ["verify"])
    assert broken.exit_code == 1
    assert "BROKEN" in broken.output and "row 4" in broken.output


def test_export_jsonl_to_a_file(audit_url, tmp_path):
    target = tmp_path / "out.jsonl"
    result = runner.invoke(audit_app, ["export", "--format", "jsonl", "--output", str(target)])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in target.read_text().splitlines()]
    assert [r["id"] for r in rows] == [1, 2, 3, 4, 5]


def test_bad_audit_url_exits_with_config_error_code(settings, monkeypatch):
    monkeypatch.setenv("MEDGRAPH_AUDIT_URL", "mysql://nowhere/x")
    get_settings.cache_clear()
    result = runner.invoke(audit_app, ["verify"])
    assert result.exit_code == 2
    assert "unsupported audit URL" in result.output
