"""Append-only audit tables in SQLite and Postgres: SQL statements and the two row stores."""

from __future__ import annotations

import re
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol, TypedDict
from urllib.parse import urlsplit

import psycopg
import psycopg_pool

from state.checkpointer import redact_url
from state.errors import AuditUnavailable, ConfigError

GENESIS_HASH = "0" * 64
COLUMNS = (
    "id",
    "ts",
    "tenant",
    "user_id",
    "thread_id",
    "run_id",
    "node",
    "event_type",
    "payload",
    "prev_hash",
    "hash",
)
_TABLE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,50}$")


class StoredRow(TypedDict):
    """One audit row as stored; `payload` is canonical JSON text."""

    id: int
    ts: str
    tenant: str
    user_id: str
    thread_id: str
    run_id: str | None
    node: str | None
    event_type: str
    payload: str
    prev_hash: str
    hash: str


# Called under the chain lock with (previous id, previous hash); returns the rows to insert.
Sealer = Callable[[int, str], list[StoredRow]]


SQLITE_SCHEMA = """
CREATE TABLE IF NOT EXISTS {t} (
    id INTEGER PRIMARY KEY,
    ts TEXT NOT NULL,
    tenant TEXT NOT NULL,
    user_id TEXT NOT NULL,
    thread_id TEXT NOT NULL,
    run_id TEXT,
    node TEXT,
    event_type TEXT NOT NULL,
    payload TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS {t}_thread ON {t} (thread_id, id);
CREATE TRIGGER IF NOT EXISTS {t}_no_update BEFORE UPDATE ON {t}
BEGIN SELECT RAISE(ABORT, 'audit trail is append-only: UPDATE refused'); END;
CREATE TRIGGER IF NOT EXISTS {t}_no_delete BEFORE DELETE ON {t}
BEGIN SELECT RAISE(ABORT, 'audit trail is append-only: DELETE refused'); END;
"""

POSTGRES_SCHEMA = """
CREATE TABLE IF NOT EXISTS {t} (
    id BIGINT PRIMARY KEY,
    ts TEXT NOT NULL,
    tenant TEXT NOT NULL,
    user_id TEXT NOT NULL,
    thread_id TEXT NOT NULL,
    run_id TEXT,
    node TEXT,
    event_type TEXT NOT NULL,
    payload TEXT NOT NULL,
    prev_hash CHAR(64) NOT NULL,
    hash CHAR(64) NOT NULL
);
CREATE INDEX IF NOT EXISTS {t}_thread ON {t} (thread_id, id);
CREATE OR REPLACE FUNCTION {t}_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit trail is append-only: % refused', TG_OP;
END $$;
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_trigger
                   WHERE tgname = '{t}_append_only' AND tgrelid = '{t}'::regclass) THEN
        CREATE TRIGGER {t}_append_only BEFORE UPDATE OR DELETE ON {t}
            FOR EACH ROW EXECUTE FUNCTION {t}_refuse_change();
        CREATE TRIGGER {t}_no_truncate BEFORE TRUNCATE ON {t}
            FOR EACH STATEMENT EXECUTE FUNCTION {t}_refuse_change();
    END IF;
END $$;
"""

# One advisory lock per table serialises chain appends across processes.
POSTGRES_LOCK = "SELECT pg_advisory_xact_lock(hashtext(current_schema() || '.' || %s))"
HEAD = "SELECT id, hash FROM {t} ORDER BY id DESC LIMIT 1"
INSERT_SQLITE = f"INSERT INTO {{t}} ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"
INSERT_POSTGRES = (
    f"INSERT INTO {{t}} ({', '.join(COLUMNS)}) VALUES ({', '.join(['%s'] * len(COLUMNS))})"
)
SELECT_ALL = f"SELECT {', '.join(COLUMNS)} FROM {{t}} ORDER BY id"
SELECT_TAIL = (
    f"SELECT * FROM (SELECT {', '.join(COLUMNS)} FROM {{t}} ORDER BY id DESC LIMIT {{p}}) "
    "AS last ORDER BY id"
)
SELECT_THREAD = f"SELECT {', '.join(COLUMNS)} FROM {{t}} WHERE thread_id = {{p}} ORDER BY id"


class AuditStore(Protocol):
    """Where audit rows live; every method raises `AuditUnavailable` when the store fails."""

    where: str

    def setup(self) -> None:
        """Create the table and its append-only triggers if missing."""

    def append(self, seal: Sealer) -> list[StoredRow]:
        """Under the chain lock, read the head, insert what `seal` returns, commit."""

    def rows(self) -> Iterator[StoredRow]:
        """Every row in id order, streamed."""

    def tail(self, n: int) -> list[StoredRow]:
        """The last `n` rows in id order."""

    def for_thread(self, thread_id: str) -> list[StoredRow]:
        """Every row of one thread in id order."""

    def close(self) -> None:
        """Release connections."""


def check_table(table: str) -> str:
    """Table names are interpolated into SQL, so only plain identifiers are accepted."""
    if not _TABLE_NAME.match(table):
        raise ConfigError(f"audit table name {table!r} must match {_TABLE_NAME.pattern}")
    return table


def _as_row(values: Sequence[Any]) -> StoredRow:
    row = dict(zip(COLUMNS, values, strict=True))
    row["prev_hash"] = row["prev_hash"].strip()
    row["hash"] = row["hash"].strip()
    return row  # type: ignore[return-value]


def _values(row: StoredRow) -> tuple[Any, ...]:
    return tuple(row[c] for c in COLUMNS)  # type: ignore[literal-required]


class SqliteAuditStore:
    """Audit rows in a SQLite file; `BEGIN IMMEDIATE` serialises appends across processes."""

    def __init__(self, path: str, *, table: str = "audit_log", timeout_s: float = 5.0) -> None:
        self.where = f"sqlite:///{path}"
        self.table = check_table(table)
        self._lock = threading.Lock()
        try:
            if path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(
                path, timeout=timeout_s, check_same_thread=False, isolation_level=None
            )
        except (OSError, sqlite3.Error) as exc:
            raise AuditUnavailable(f"audit store {self.where} cannot be opened: {exc}") from exc

    def _fail(self, exc: Exception) -> AuditUnavailable:
        return AuditUnavailable(f"audit store {self.where} failed: {exc}")

    def setup(self) -> None:
        """Create the table, its index and the triggers that refuse UPDATE and DELETE."""
        with self._lock:
            try:
                self._conn.execute("PRAGMA journal_mode=WAL")
                self._conn.executescript(SQLITE_SCHEMA.format(t=self.table))
            except sqlite3.Error as exc:
                raise self._fail(exc) from exc

    def append(self, seal: Sealer) -> list[StoredRow]:
        """Append a batch in one write transaction, chained to the current head."""
        with self._lock:
            try:
                self._conn.execute("BEGIN IMMEDIATE")
                try:
                    head = self._conn.execute(HEAD.format(t=self.table)).fetchone()
                    rows = seal(head[0], head[1]) if head else seal(0, GENESIS_HASH)
                    self._conn.executemany(
                        INSERT_SQLITE.format(t=self.table), [_values(r) for r in rows]
                    )
                    self._conn.execute("COMMIT")
                except BaseException:
                    self._conn.execute("ROLLBACK")
                    raise
            except sqlite3.Error as exc:
                raise self._fail(exc) from exc
        return rows

    def _select(self, sql: str, params: Sequence[Any] = ()) -> list[StoredRow]:
        with self._lock:
            try:
                return [_as_row(r) for r in self._conn.execute(sql, params).fetchall()]
            except sqlite3.Error as exc:
                raise self._fail(exc) from exc

    def rows(self) -> Iterator[StoredRow]:
        """Every row in id order, read in pages of 1000."""
        last = 0
        sql = f"SELECT {', '.join(COLUMNS)} FROM {self.table} WHERE id > ? ORDER BY id LIMIT 1000"
        while page := self._select(sql, (last,)):
            yield from page
            last = page[-1]["id"]

    def tail(self, n: int) -> list[StoredRow]:
        """The last `n` rows in id order."""
        return self._select(SELECT_TAIL.format(t=self.table, p="?"), (n,))

    def for_thread(self, thread_id: str) -> list[StoredRow]:
        """Every row of one thread in id order."""
        return self._select(SELECT_THREAD.format(t=self.table, p="?"), (thread_id,))

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._conn.close()


class PostgresAuditStore:
    """Audit rows in Postgres; a transaction-level advisory lock serialises chain appends."""

    def __init__(self, url: str, *, table: str = "audit_log", timeout_s: float = 5.0) -> None:
        self.where = redact_url(url)
        self.table = check_table(table)
        self.timeout_s = timeout_s
        self._pool = psycopg_pool.ConnectionPool(
            url,
            min_size=1,
            max_size=4,
            timeout=timeout_s,
            kwargs={"connect_timeout": max(1, int(timeout_s))},
            open=False,
        )
        self._pool.open(wait=False)

    def _fail(self, exc: Exception) -> AuditUnavailable:
        return AuditUnavailable(f"audit store {self.where} failed: {exc}")

    def setup(self) -> None:
        """Create the table, its index and the triggers that refuse UPDATE, DELETE, TRUNCATE."""
        try:
            with self._pool.connection() as conn, conn.transaction():
                conn.execute(POSTGRES_LOCK, (self.table,))
                conn.execute(POSTGRES_SCHEMA.format(t=self.table).encode())
        except (psycopg.Error, psycopg_pool.PoolTimeout) as exc:
            raise self._fail(exc) from exc

    def append(self, seal: Sealer) -> list[StoredRow]:
        """Append a batch in one transaction holding the table's advisory lock."""
        try:
            with self._pool.connection() as conn, conn.transaction():
                conn.execute(POSTGRES_LOCK, (self.table,))
                head = conn.execute(HEAD.format(t=self.table).encode()).fetchone()
                rows = seal(head[0], head[1].strip()) if head else seal(0, GENESIS_HASH)
                with conn.cursor() as cur:
                    cur.executemany(
                        INSERT_POSTGRES.format(t=self.table).encode(),
                        [_values(r) for r in rows],
                    )
        except (psycopg.Error, psycopg_pool.PoolTimeout) as exc:
            raise self._fail(exc) from exc
        return rows

    def _select(self, sql: str, params: Sequence[Any] = ()) -> list[StoredRow]:
        try:
            with self._pool.connection() as conn:
                return [_as_row(r) for r in conn.execute(sql.encode(), params).fetchall()]
        except (psycopg.Error, psycopg_pool.PoolTimeout) as exc:
            raise self._fail(exc) from exc

    def rows(self) -> Iterator[StoredRow]:
        """Every row in id order, read in pages of 1000."""
        last = 0
        sql = f"SELECT {', '.join(COLUMNS)} FROM {self.table} WHERE id > %s ORDER BY id LIMIT 1000"
        while page := self._select(sql, (last,)):
            yield from page
            last = page[-1]["id"]

    def tail(self, n: int) -> list[StoredRow]:
        """The last `n` rows in id order."""
        return self._select(SELECT_TAIL.format(t=self.table, p="%s"), (n,))

    def for_thread(self, thread_id: str) -> list[StoredRow]:
        """Every row of one thread in id order."""
        return self._select(SELECT_THREAD.format(t=self.table, p="%s"), (thread_id,))

    def close(self) -> None:
        """Close the pool."""
        self._pool.close()


def open_store(url: str, *, table: str = "audit_log", timeout_s: float = 5.0) -> AuditStore:
    """The store an audit URL names: `postgresql://…` or `sqlite:///path`."""
    try:
        scheme = urlsplit(url).scheme.lower() if url else ""
    except ValueError as exc:
        raise ConfigError(f"malformed audit URL {redact_url(url)!r}: {exc}") from exc
    if scheme in ("postgresql", "postgres"):
        return PostgresAuditStore(url, table=table, timeout_s=timeout_s)
    if scheme == "sqlite" and url.startswith("sqlite:///") and len(url) > len("sqlite:///"):
        return SqliteAuditStore(url[len("sqlite:///") :], table=table, timeout_s=timeout_s)
    raise ConfigError(
        f"unsupported audit URL {redact_url(url or '')!r}: use postgresql:// or sqlite:///path"
    )
