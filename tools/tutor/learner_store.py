"""Where learner state, every answer event and fitted BKT parameters persist: SQLite or Postgres.

The URL picks the store, as for the audit trail: `sqlite:///path` (the embedded default, a file
in the data dir) or `postgresql://…` (psycopg 3). Every failure is a `StateUnavailable`.

Usage:
    with open_learner_store("sqlite:////tmp/tutor.sqlite") as store:
        state = store.load("acme", "u1") or LearnerState(tenant_id="acme", user_id="u1")
        store.record(new_state, event)        # the event and the new state, in one transaction
        store.erase_learner("u1")             # ErasedCounts(learners=1, events=12)
"""

from __future__ import annotations

import sqlite3
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol
from urllib.parse import urlsplit

import psycopg
import psycopg_pool
from pydantic import BaseModel, Field

from state.checkpointer import redact_url
from state.errors import ConfigError, StateUnavailable
from tools.tutor import learner_sql as sql
from tools.tutor.bkt import BKTParams
from tools.tutor.learner import AnswerEvent, LearnerState, utc_now


class StoredParams(BaseModel):
    """One concept's fitted BKT parameters and how much data they came from."""

    prior: float = Field(ge=0, le=1)
    learn: float = Field(ge=0, le=1)
    guess: float = Field(ge=0, le=1)
    slip: float = Field(ge=0, le=1)
    sequences: int = Field(ge=0)
    observations: int = Field(ge=0)

    def bkt(self) -> BKTParams:
        """As BKT parameters."""
        return BKTParams(self.prior, self.learn, self.guess, self.slip)


@dataclass(frozen=True)
class ErasedCounts:
    """How many rows `erase_learner` deleted; nothing of the learner is kept."""

    learners: int
    events: int


class _Cursor(Protocol):
    rowcount: int

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...


class _Tx(Protocol):
    def execute(self, query: Any, params: Sequence[Any] = ...) -> _Cursor: ...


class LearnerStore(ABC):
    """The store's operations over one driver; subclasses supply transactions and placeholders."""

    where: str
    placeholder: str
    schema: str

    def __init__(self, prefix: str) -> None:
        if not prefix.isidentifier() or not prefix.isascii() or len(prefix) > 40:
            raise ConfigError(f"tutor table prefix {prefix!r} must be a plain identifier")
        self.prefix = prefix

    @abstractmethod
    def _transaction(self) -> AbstractContextManager[_Tx]:
        """A transaction that commits on success and rolls back on error."""

    @abstractmethod
    def close(self) -> None:
        """Release connections."""

    def _q(self, statement: str) -> str:
        return statement.format(t=self.prefix, p=self.placeholder)

    def _fail(self, exc: Exception) -> StateUnavailable:
        return StateUnavailable(f"tutor learner store {self.where} failed: {exc}")

    def setup(self) -> None:
        """Create the tables if missing."""
        with self._transaction() as tx:
            for statement in self.schema.format(t=self.prefix).split(";"):
                if statement.strip():
                    tx.execute(statement)

    def load(self, tenant_id: str, user_id: str) -> LearnerState | None:
        """The learner's saved state, or None for a learner never seen."""
        with self._transaction() as tx:
            row = tx.execute(self._q(sql.SELECT_LEARNER), (tenant_id, user_id)).fetchone()
        return LearnerState.model_validate_json(row[0]) if row else None

    def save(self, state: LearnerState) -> None:
        """Write the learner's state (for changes that are not answers, e.g. a new question)."""
        with self._transaction() as tx:
            self._upsert(tx, state)

    def record(self, state: LearnerState, event: AnswerEvent) -> None:
        """Append the answer event and write the state it produced, atomically."""
        with self._transaction() as tx:
            tx.execute(
                self._q(sql.INSERT_EVENT),
                (event.tenant_id, event.user_id, event.ts, event.model_dump_json()),
            )
            self._upsert(tx, state)

    def _upsert(self, tx: _Tx, state: LearnerState) -> None:
        tx.execute(
            self._q(sql.UPSERT_LEARNER),
            (state.tenant_id, state.user_id, state.model_dump_json(), utc_now()),
        )

    def events(self, tenant_id: str | None = None, user_id: str | None = None) -> list[AnswerEvent]:
        """Answer events in order: one learner's (tenant and user given) or everyone's."""
        with self._transaction() as tx:
            if user_id is None:
                rows = tx.execute(self._q(sql.SELECT_EVENTS)).fetchall()
            else:
                rows = tx.execute(
                    self._q(sql.SELECT_LEARNER_EVENTS), (tenant_id or "", user_id)
                ).fetchall()
        return [AnswerEvent.model_validate_json(r[0]) for r in rows]

    def save_params(self, params: dict[str, StoredParams]) -> None:
        """Store fitted parameters per concept (replacing earlier fits)."""
        now = utc_now()
        with self._transaction() as tx:
            for concept_id, fitted in params.items():
                tx.execute(self._q(sql.UPSERT_PARAMS), (concept_id, fitted.model_dump_json(), now))

    def load_params(self) -> dict[str, StoredParams]:
        """Fitted parameters per concept (concepts without a fit are absent)."""
        with self._transaction() as tx:
            rows = tx.execute(self._q(sql.SELECT_PARAMS)).fetchall()
        return {r[0]: StoredParams.model_validate_json(r[1]) for r in rows}

    def erase_learner(self, user_id: str, tenant_id: str | None = None) -> ErasedCounts:
        """Delete the learner's state and every answer event (in one tenant, or all)."""
        args: tuple[str, ...] = (user_id,) if tenant_id is None else (user_id, tenant_id)
        learners, events = (
            (sql.DELETE_LEARNER, sql.DELETE_EVENTS)
            if tenant_id is None
            else (sql.DELETE_LEARNER_IN_TENANT, sql.DELETE_EVENTS_IN_TENANT)
        )
        with self._transaction() as tx:
            erased_events = tx.execute(self._q(events), args).rowcount
            erased_learners = tx.execute(self._q(learners), args).rowcount
        return ErasedCounts(learners=erased_learners, events=erased_events)

    def __enter__(self) -> LearnerStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class SqliteLearnerStore(LearnerStore):
    """The learner store in a SQLite file; writes take the database lock (`BEGIN IMMEDIATE`)."""

    placeholder = "?"
    schema = sql.SQLITE_SCHEMA

    def __init__(self, path: str, *, prefix: str = "tutor", timeout_s: float = 5.0) -> None:
        super().__init__(prefix)
        self.where = f"sqlite:///{path}"
        self._lock = threading.Lock()
        try:
            if path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(
                path, timeout=timeout_s, check_same_thread=False, isolation_level=None
            )
            self._conn.execute("PRAGMA journal_mode=WAL")
        except (OSError, sqlite3.Error) as exc:
            raise self._fail(exc) from exc

    @contextmanager
    def _transaction(self) -> Iterator[_Tx]:
        with self._lock:
            try:
                self._conn.execute("BEGIN IMMEDIATE")
                try:
                    yield self._conn
                except BaseException:
                    self._conn.execute("ROLLBACK")
                    raise
                self._conn.execute("COMMIT")
            except sqlite3.Error as exc:
                raise self._fail(exc) from exc

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._conn.close()


class PostgresLearnerStore(LearnerStore):
    """The learner store in Postgres through a small psycopg 3 pool."""

    placeholder = "%s"
    schema = sql.POSTGRES_SCHEMA

    def __init__(self, url: str, *, prefix: str = "tutor", timeout_s: float = 5.0) -> None:
        super().__init__(prefix)
        self.where = redact_url(url)
        self._pool = psycopg_pool.ConnectionPool(
            url,
            min_size=1,
            max_size=4,
            timeout=timeout_s,
            kwargs={"connect_timeout": max(1, int(timeout_s))},
            open=False,
        )
        self._pool.open(wait=False)

    @contextmanager
    def _transaction(self) -> Iterator[_Tx]:
        try:
            with self._pool.connection() as conn, conn.transaction():
                yield conn  # type: ignore[misc]
        except (psycopg.Error, psycopg_pool.PoolTimeout) as exc:
            raise self._fail(exc) from exc

    def close(self) -> None:
        """Close the pool."""
        self._pool.close()


def open_learner_store(url: str, *, prefix: str = "tutor", timeout_s: float = 5.0) -> LearnerStore:
    """The learner store a URL names (`postgresql://…` or `sqlite:///path`), tables ready."""
    try:
        scheme = urlsplit(url).scheme.lower() if url else ""
    except ValueError as exc:
        raise ConfigError(f"malformed tutor store URL {redact_url(url)!r}: {exc}") from exc
    store: LearnerStore
    if scheme in ("postgresql", "postgres"):
        store = PostgresLearnerStore(url, prefix=prefix, timeout_s=timeout_s)
    elif scheme == "sqlite" and url.startswith("sqlite:///") and len(url) > len("sqlite:///"):
        store = SqliteLearnerStore(url[len("sqlite:///") :], prefix=prefix, timeout_s=timeout_s)
    else:
        raise ConfigError(
            f"unsupported tutor store URL {redact_url(url or '')!r}: "
            "use postgresql:// or sqlite:///path"
        )
    try:
        store.setup()
    except StateUnavailable:
        store.close()
        raise
    return store
