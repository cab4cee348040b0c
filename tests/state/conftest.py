"""Fixtures for state tests: isolated Redis prefixes, Postgres schemas and checkpoint URLs."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import psycopg
import pytest
import redis


def clear_prefix(redis_url: str, prefix: str) -> None:
    """Delete every key under `prefix` in the test Redis database."""
    client = redis.Redis.from_url(redis_url)
    try:
        keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


@pytest.fixture
def redis_prefix(redis_url: str) -> Iterator[str]:
    """A unique key prefix in Redis db 15, cleaned up afterwards."""
    prefix = f"test:state:{uuid.uuid4().hex[:10]}"
    yield prefix
    clear_prefix(redis_url, prefix)


@pytest.fixture
def pg_schema(postgres_url: str) -> Iterator[str]:
    """A fresh Postgres schema, dropped with everything in it afterwards."""
    schema = f"test_state_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    yield schema
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture
def pg_schema_url(postgres_url: str, pg_schema: str) -> str:
    """The test Postgres URL with its search_path set to the fresh schema."""
    sep = "&" if "?" in postgres_url else "?"
    return f"{postgres_url}{sep}options={quote(f'-csearch_path={pg_schema}')}"


@pytest.fixture(
    params=[
        pytest.param("redis", marks=pytest.mark.services),
        pytest.param("postgres", marks=pytest.mark.services),
        "sqlite",
    ]
)
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def checkpoint_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A checkpoint URL for each backend, isolated for this test."""
    if backend == "redis":
        return request.getfixturevalue("redis_url")
    if backend == "postgres":
        return request.getfixturevalue("pg_schema_url")
    return f"sqlite:///{tmp_path / 'nested' / 'checkpoints.sqlite'}"


@pytest.fixture
def factory_kwargs(backend: str, request: pytest.FixtureRequest) -> dict[str, str]:
    """Extra factory options per backend (a unique Redis key prefix)."""
    if backend == "redis":
        return {"redis_prefix": request.getfixturevalue("redis_prefix")}
    return {}
