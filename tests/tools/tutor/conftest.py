"""Fixtures for tutor tests: a small valid bank, the real MiniLM embedder, a Postgres schema."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import psycopg
import pytest

from tests.tools.tutor.bank_fixture import write_bank
from tools.models.embedder import MiniLMEmbedder
from tools.tutor.bank import Bank, load_bank


@pytest.fixture
def bank_dir(tmp_path: Path) -> Path:
    return write_bank(tmp_path / "bank")


@pytest.fixture
def bank(bank_dir: Path) -> Bank:
    return load_bank(bank_dir)


@pytest.fixture(scope="session")
def minilm() -> MiniLMEmbedder:
    """The real int8 MiniLM embedder, loaded once per session."""
    return MiniLMEmbedder.load("cpu")


@pytest.fixture
def pg_schema_url(postgres_url: str) -> Iterator[str]:
    """The test Postgres URL with its search_path on a fresh schema, dropped afterwards."""
    schema = f"test_tutor_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in postgres_url else "?"
    yield f"{postgres_url}{sep}options={quote(f'-csearch_path={schema}')}"
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
