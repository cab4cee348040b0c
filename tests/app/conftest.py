"""Fixtures for the embedded model server tests: the real Gemma 3 270M, loaded once per session."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from tools.llm.engine import LocalLLM, load_local_llm
from tools.models.registry import ModelRegistry


@pytest.fixture(scope="session")
def llm_cache_dir() -> Path:
    """The real shared model cache (converted weights are reused across runs)."""
    from app.settings import Settings

    return Settings().cache_dir


@pytest.fixture(scope="session")
def local_llm(request: pytest.FixtureRequest, llm_cache_dir: Path) -> LocalLLM:
    """The int8 engine, shared with tests/app through the pytest config (one load per run)."""
    cached = getattr(request.config, "_medgraph_local_llm", None)
    if cached is None:
        cached = load_local_llm(ModelRegistry("cpu"), llm_cache_dir, quantize=True, threads=0)
        request.config._medgraph_local_llm = cached  # type: ignore[attr-defined]
    assert isinstance(cached, LocalLLM)
    assert cached.device == torch.device("cpu")
    return cached
