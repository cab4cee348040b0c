"""Settings: per-role resolution, defaults, and typed errors for malformed values."""

from __future__ import annotations

import pytest

from app.settings import get_settings
from state.errors import ConfigError


def test_roles_fall_back_to_embedded_then_to_shared_url_then_to_their_own(settings, monkeypatch):
    assert settings.model_role("router").embedded
    monkeypatch.setenv("MEDGRAPH_MODEL_BASE_URL", "http://shared:8000/v1")
    monkeypatch.setenv("MEDGRAPH_JUDGE_BASE_URL", "https://judge.example/v1")
    monkeypatch.setenv("MEDGRAPH_JUDGE_MODEL", "big-judge")
    get_settings.cache_clear()
    s = get_settings()
    assert s.model_role("router").base_url == "http://shared:8000/v1"
    assert s.model_role("router").base_url_setting == "MEDGRAPH_MODEL_BASE_URL"
    judge = s.model_role("judge")
    assert (judge.base_url, judge.model) == ("https://judge.example/v1", "big-judge")
    assert judge.base_url_setting == "MEDGRAPH_JUDGE_BASE_URL"
    assert not s.any_embedded_role


def test_state_urls_default_to_sqlite_files_in_the_data_dir(settings, tmp_path):
    assert (
        settings.resolved_checkpoint_url == f"sqlite:///{tmp_path / 'data' / 'checkpoints.sqlite'}"
    )
    assert settings.resolved_audit_url.endswith("audit.sqlite")


@pytest.mark.parametrize(
    ("name", "value", "fragment"),
    [
        ("MEDGRAPH_MODEL_BASE_URL", "ftp://nope", "MEDGRAPH_MODEL_BASE_URL must start with http"),
        ("MEDGRAPH_ROUTE_VERIFY_THRESHOLD", "0.9", "must not exceed"),
        ("MEDGRAPH_MAX_MESSAGE_CHARS", "-3", "MEDGRAPH_MAX_MESSAGE_CHARS"),
        ("MEDGRAPH_LOCAL_DEVICE", "tpu", "MEDGRAPH_LOCAL_DEVICE"),
    ],
)
def test_malformed_settings_raise_config_error_naming_the_variable(
    settings, monkeypatch, name, value, fragment
):
    monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    with pytest.raises(ConfigError, match=fragment):
        get_settings()
