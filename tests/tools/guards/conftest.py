"""Fixtures for the guard tests: the redactor, and the real MiniLM guard set once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from tools.guards.assembly import GuardConfig, GuardSet, build_guard_set
from tools.guards.phi import PhiRedactor


@pytest.fixture(scope="session")
def redactor() -> PhiRedactor:
    return PhiRedactor()


@pytest.fixture(scope="session")
def guard_set(request: pytest.FixtureRequest) -> GuardSet:
    """Real MiniLM embeddings and the real classifier (fit cached in the shared model cache)."""
    from app.settings import Settings
    from tools.models.embedder import MiniLMEmbedder

    cached = getattr(request.config, "_medgraph_guard_set", None)
    if cached is None:
        embedder = MiniLMEmbedder.load("cpu")
        cache_dir: Path = Settings().cache_dir
        cached = build_guard_set(
            embedder,
            GuardConfig(profile="test", cache_dir=cache_dir, max_chars=20_000),
            embedder_id=f"minilm-{embedder.variant}",
        )
        request.config._medgraph_guard_set = cached  # type: ignore[attr-defined]
    return cached
