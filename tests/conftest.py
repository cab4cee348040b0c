"""Shared fixtures: real service URLs, isolated settings; CI never skips service tests."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from app.settings import Settings, get_settings

if TYPE_CHECKING:
    from tools.llm.engine import LocalLLM

REDIS_URL = os.environ.get("MEDGRAPH_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
POSTGRES_URL = os.environ.get(
    "MEDGRAPH_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
IN_CI = os.environ.get("CI", "").lower() == "true"


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False


def require_service(name: str, port: int) -> None:
    """Skip outside CI when a service is down; in CI a missing service is a failure."""
    if _port_open("127.0.0.1", port):
        return
    message = f"{name} is not running on 127.0.0.1:{port}"
    if IN_CI:
        pytest.fail(f"{message} (service tests never skip in CI)")
    pytest.skip(message)


@pytest.fixture
def redis_url() -> str:
    require_service("Redis", 6379)
    return REDIS_URL


@pytest.fixture
def postgres_url() -> str:
    require_service("PostgreSQL", 5432)
    return POSTGRES_URL


@pytest.fixture(scope="session")
def llm_cache_dir() -> Path:
    """The real shared model cache (converted weights are reused across runs)."""
    return Settings().cache_dir


@pytest.fixture(scope="session")
def local_llm(llm_cache_dir: Path) -> LocalLLM:
    """The real embedded Gemma 3 270M (int8), loaded once per test session."""
    from tools.llm.engine import load_local_llm
    from tools.models.registry import ModelRegistry

    return load_local_llm(ModelRegistry("cpu"), llm_cache_dir, quantize=True, threads=0)


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """Settings isolated in a temporary data directory, with the shared model cache kept."""
    for key in list(os.environ):
        if key.startswith("MEDGRAPH_") and not key.startswith("MEDGRAPH_TEST_"):
            monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("MEDGRAPH_DATA_DIR", str(tmp_path / "data"))
    get_settings.cache_clear()
    yield get_settings()
    get_settings.cache_clear()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip `gpu` tests when CUDA is absent (torch is imported only when such tests exist)."""
    gpu_items = [item for item in items if "gpu" in item.keywords]
    if not gpu_items:
        return
    import torch

    if torch.cuda.is_available():
        return
    skip_gpu = pytest.mark.skip(reason="needs CUDA; none on this machine")
    for item in gpu_items:
        item.add_marker(skip_gpu)
