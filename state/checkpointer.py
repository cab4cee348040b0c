"""Build the graph's checkpointer from a URL: Redis (ours), Postgres or SQLite (official).

Every saver gets `serde.checkpoint_serde(record_types)`: it rebuilds the records of `state.schema`
and the classes the caller names (`graphs.checkpoint_types.graph_record_types()`), nothing else.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit, urlunsplit

import aiosqlite
import psycopg
import psycopg_pool
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.postgres import PostgresSaver
from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver
from psycopg.rows import dict_row
from pydantic import BaseModel

from state.errors import ConfigError, StateUnavailable
from state.redis_saver import RedisSaver
from state.redis_saver_aio import AsyncRedisSaver
from state.redis_saver_base import DEFAULT_PREFIX
from state.serde import checkpoint_serde

Backend = Literal["redis", "postgres", "sqlite"]
_SCHEMES: dict[str, Backend] = {
    "redis": "redis",
    "rediss": "redis",
    "unix": "redis",
    "postgresql": "postgres",
    "postgres": "postgres",
    "sqlite": "sqlite",
}


@dataclass(frozen=True)
class CheckpointTarget:
    """A validated checkpoint URL: which backend, the URL for it, and a password-free form."""

    backend: Backend
    url: str
    safe_url: str
    sqlite_path: str | None = None


def redact_url(url: str) -> str:
    """The URL with any password replaced by `***`, safe to log and show."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def parse_checkpoint_url(url: str) -> CheckpointTarget:
    """Validate a checkpoint URL; anything malformed or unsupported is a `ConfigError`."""
    if not url or not url.strip():
        raise ConfigError("checkpoint URL is empty: use redis://, postgresql:// or sqlite:///")
    try:
        parts = urlsplit(url.strip())
        _ = parts.port
    except ValueError as exc:
        raise ConfigError(f"malformed checkpoint URL {redact_url(url)!r}: {exc}") from exc
    backend = _SCHEMES.get(parts.scheme.lower())
    safe = redact_url(url)
    if backend is None:
        raise ConfigError(
            f"unsupported checkpoint URL {safe!r}: use redis://, rediss://, postgresql:// "
            "or sqlite:///path"
        )
    if backend == "redis" and parts.scheme != "unix" and not parts.hostname:
        raise ConfigError(f"checkpoint URL {safe!r} names no Redis host")
    if backend == "redis" and parts.path.strip("/") and not parts.path.strip("/").isdigit():
        raise ConfigError(f"checkpoint URL {safe!r}: the Redis database must be a number")
    if backend == "sqlite":
        if not url.startswith("sqlite:///") or len(url) == len("sqlite:///"):
            raise ConfigError(
                f"checkpoint URL {safe!r}: write sqlite:///relative/path or sqlite:////abs/path"
            )
        return CheckpointTarget(backend, url, safe, sqlite_path=url[len("sqlite:///") :])
    return CheckpointTarget(backend, url.strip(), safe)


def _sqlite_path(target: CheckpointTarget) -> str:
    path = target.sqlite_path or ""
    if path != ":memory:":
        try:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StateUnavailable(
                f"checkpoint store {target.safe_url}: cannot create its directory: {exc}"
            ) from exc
    return path


def _sqlite_unavailable(target: CheckpointTarget, exc: sqlite3.Error) -> StateUnavailable:
    return StateUnavailable(f"checkpoint store {target.safe_url} is unavailable: {exc}")


_PG_KWARGS = {"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row}


@contextmanager
def open_checkpointer(
    url: str,
    *,
    redis_prefix: str = DEFAULT_PREFIX,
    ttl_s: int | None = None,
    pool_size: int = 10,
    timeout_s: float = 5.0,
    record_types: Sequence[type[BaseModel]] = (),
) -> Iterator[BaseCheckpointSaver]:
    """Open the checkpointer a URL names, ready to use (tables created); close it on exit.

    Example:
        >>> with open_checkpointer("sqlite:///var/checkpoints.sqlite") as saver:
        ...     graph = builder.compile(checkpointer=saver)

    Raises:
        ConfigError: the URL is malformed or its scheme unsupported.
        StateUnavailable: the store cannot be reached or set up (the message names the URL).
    """
    target = parse_checkpoint_url(url)
    serde = checkpoint_serde(record_types)
    if target.backend == "redis":
        with RedisSaver.from_url(
            target.url,
            prefix=redis_prefix,
            ttl_s=ttl_s,
            socket_timeout_s=timeout_s,
            serde=serde,
        ) as saver:
            yield saver
    elif target.backend == "postgres":
        pool = psycopg_pool.ConnectionPool(
            target.url, min_size=1, max_size=pool_size, kwargs=_PG_KWARGS, open=False
        )
        try:
            pool.open(wait=True, timeout=timeout_s)
            saver = PostgresSaver(pool, serde=serde)  # type: ignore[arg-type]
            saver.setup()
        except (psycopg.Error, psycopg_pool.PoolTimeout) as exc:
            pool.close()
            raise StateUnavailable(
                f"checkpoint store {target.safe_url} is unavailable: {exc}"
            ) from exc
        try:
            yield saver
        finally:
            pool.close()
    else:
        path = _sqlite_path(target)
        try:
            conn = sqlite3.connect(path, check_same_thread=False)
        except sqlite3.Error as exc:
            raise _sqlite_unavailable(target, exc) from exc
        try:
            saver = SqliteSaver(conn, serde=serde)
            try:
                saver.setup()
            except sqlite3.Error as exc:
                raise _sqlite_unavailable(target, exc) from exc
            yield saver
        finally:
            conn.close()


@asynccontextmanager
async def open_async_checkpointer(
    url: str,
    *,
    redis_prefix: str = DEFAULT_PREFIX,
    ttl_s: int | None = None,
    pool_size: int = 10,
    timeout_s: float = 5.0,
    record_types: Sequence[type[BaseModel]] = (),
) -> AsyncIterator[BaseCheckpointSaver]:
    """Async twin of `open_checkpointer`: an asyncio saver, pools closed on exit.

    Example:
        >>> async with open_async_checkpointer("redis://localhost:6379/0") as saver:
        ...     graph = builder.compile(checkpointer=saver)
    """
    target = parse_checkpoint_url(url)
    serde = checkpoint_serde(record_types)
    if target.backend == "redis":
        async with AsyncRedisSaver.from_url(
            target.url,
            prefix=redis_prefix,
            ttl_s=ttl_s,
            socket_timeout_s=timeout_s,
            serde=serde,
        ) as saver:
            yield saver
    elif target.backend == "postgres":
        pool = psycopg_pool.AsyncConnectionPool(
            target.url, min_size=1, max_size=pool_size, kwargs=_PG_KWARGS, open=False
        )
        try:
            await pool.open(wait=True, timeout=timeout_s)
            saver = AsyncPostgresSaver(pool, serde=serde)  # type: ignore[arg-type]
            await saver.setup()
        except (psycopg.Error, psycopg_pool.PoolTimeout) as exc:
            await pool.close()
            raise StateUnavailable(
                f"checkpoint store {target.safe_url} is unavailable: {exc}"
            ) from exc
        try:
            yield saver
        finally:
            await pool.close()
    else:
        path = _sqlite_path(target)
        try:
            conn = await aiosqlite.connect(path)
        except sqlite3.Error as exc:
            raise _sqlite_unavailable(target, exc) from exc
        try:
            saver = AsyncSqliteSaver(conn, serde=serde)
            try:
                await saver.setup()
            except sqlite3.Error as exc:
                raise _sqlite_unavailable(target, exc) from exc
            yield saver
        finally:
            await conn.close()
