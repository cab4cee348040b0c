"""`medgraph doctor` through typer's test runner: what it reports and its exit code."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from app.cli import app
from app.settings import get_settings

runner = CliRunner()


@pytest.mark.services
def test_doctor_reports_reachable_redis_and_postgres(
    settings, monkeypatch, redis_url, postgres_url
):
    monkeypatch.setenv("MEDGRAPH_CHECKPOINT_URL", redis_url)
    monkeypatch.setenv("MEDGRAPH_AUDIT_URL", postgres_url)
    get_settings.cache_clear()
    result = runner.invoke(app, ["doctor"], env={"COLUMNS": "200"})
    assert "Redis 127.0.0.1:6379 reachable" in result.output
    assert "PostgreSQL 127.0.0.1:5432 reachable" in result.output
    assert "embedded Gemma 3 270M" in result.output
    assert "MiniLM embedder package" in result.output


def test_doctor_names_unreachable_services_and_endpoints_and_exits_1(settings, monkeypatch):
    monkeypatch.setenv("MEDGRAPH_CHECKPOINT_URL", "redis://127.0.0.1:1/0")
    monkeypatch.setenv("MEDGRAPH_MODEL_BASE_URL", "http://127.0.0.1:1/v1")
    get_settings.cache_clear()
    result = runner.invoke(app, ["doctor"], env={"COLUMNS": "200"})
    assert result.exit_code == 1
    assert "127.0.0.1:1 unreachable" in result.output
    assert "http://127.0.0.1:1/v1: ConnectError" in result.output


def test_doctor_with_malformed_setting_gives_a_short_error_not_a_traceback(settings, monkeypatch):
    monkeypatch.setenv("MEDGRAPH_ROUTE_DIRECT_THRESHOLD", "high")
    get_settings.cache_clear()
    result = runner.invoke(app, ["doctor"])
    assert result.exit_code == 2
    assert "MEDGRAPH_ROUTE_DIRECT_THRESHOLD" in result.output
    assert "Traceback" not in result.output
