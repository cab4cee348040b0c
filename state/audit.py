"""The hash-chained, append-only audit trail: events, the chain, and the batching writer."""

from __future__ import annotations

import hashlib
import json
import logging
import queue
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import TracebackType
from typing import IO, Any, Literal

from pydantic import BaseModel, Field, field_validator

from state.audit_store import AuditStore, StoredRow, open_store
from state.errors import AuditUnavailable

logger = logging.getLogger(__name__)

AuditEventType = Literal[
    "route", "model_call", "tool_call", "guard", "interrupt", "approval", "error"
]


class AuditEvent(BaseModel):
    """One thing that happened in a turn. `payload` must already be redacted (no PHI)."""

    event_type: AuditEventType
    tenant: str
    user: str
    thread: str
    run: str | None = None
    node: str | None = None
    payload: dict[str, Any] = Field(default_factory=dict)
    ts: datetime = Field(default_factory=lambda: datetime.now(UTC))

    @field_validator("payload")
    @classmethod
    def _json_only(cls, payload: dict[str, Any]) -> dict[str, Any]:
        """Refuse payloads the chain cannot hash, here rather than on the writer thread."""
        try:
            canonical_json(payload)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"audit payload must be plain JSON: {exc}") from exc
        return payload


class AuditRecord(BaseModel):
    """One stored audit row: the event, its position in the chain and its hashes."""

    id: int
    ts: str
    tenant: str
    user: str
    thread: str
    run: str | None
    node: str | None
    event_type: AuditEventType
    payload: dict[str, Any]
    prev_hash: str
    hash: str


@dataclass(frozen=True)
class VerifyResult:
    """The outcome of walking the chain: the first broken row, if any, and why."""

    ok: bool
    rows_checked: int
    first_broken_id: int | None = None
    reason: str | None = None


def prompt_digest(text: str) -> str:
    """A SHA-256 digest of a prompt, so the audit can reference it without storing it."""
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def canonical_json(value: Any) -> str:
    """The one JSON form hashed and stored: sorted keys, no spaces, UTF-8 kept."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def row_hash(row: StoredRow) -> str:
    """SHA-256 over the canonical JSON of every column except the hash itself."""
    body = {k: v for k, v in row.items() if k != "hash"}
    body["payload"] = json.loads(row["payload"])
    return hashlib.sha256(canonical_json(body).encode("utf-8")).hexdigest()


def seal_events(events: list[AuditEvent], prev_id: int, prev_hash: str) -> list[StoredRow]:
    """Chain events after the row (prev_id, prev_hash): number them and hash each."""
    rows: list[StoredRow] = []
    for offset, event in enumerate(events, start=1):
        row: StoredRow = {
            "id": prev_id + offset,
            "ts": event.ts.astimezone(UTC).isoformat(timespec="microseconds"),
            "tenant": event.tenant,
            "user_id": event.user,
            "thread_id": event.thread,
            "run_id": event.run,
            "node": event.node,
            "event_type": event.event_type,
            "payload": canonical_json(event.payload),
            "prev_hash": prev_hash,
            "hash": "",
        }
        row["hash"] = prev_hash = row_hash(row)
        rows.append(row)
    return rows


def to_record(row: StoredRow) -> AuditRecord:
    """The public form of a stored row."""
    return AuditRecord(
        id=row["id"],
        ts=row["ts"],
        tenant=row["tenant"],
        user=row["user_id"],
        thread=row["thread_id"],
        run=row["run_id"],
        node=row["node"],
        event_type=row["event_type"],  # type: ignore[arg-type]
        payload=json.loads(row["payload"]),
        prev_hash=row["prev_hash"],
        hash=row["hash"],
    )


def verify_rows(rows: Iterable[StoredRow]) -> VerifyResult:
    """Walk the chain in id order; report the first row whose id, link or hash is wrong."""
    prev_id, prev_hash, checked = 0, None, 0
    for row in rows:
        checked += 1
        problem = None
        if prev_hash is not None and row["id"] != prev_id + 1:
            problem = f"rows {prev_id + 1}..{row['id'] - 1} are missing"
        elif prev_hash is not None and row["prev_hash"] != prev_hash:
            problem = f"prev_hash does not match the hash of row {prev_id}"
        elif row_hash(row) != row["hash"]:
            problem = "content does not match its hash (row changed)"
        if problem:
            return VerifyResult(False, checked, row["id"], problem)
        prev_id, prev_hash = row["id"], row["hash"]
    return VerifyResult(True, checked)


@dataclass
class _Flush:
    done: threading.Event = field(default_factory=threading.Event)
    error: AuditUnavailable | None = None


_STOP = object()


class AuditTrail:
    """Append audit events to a hash chain, batched on a background thread.

    Events are queued by `record` (blocking when the bounded queue is full) and written in
    batches; `flush` waits until everything recorded so far is stored. Fail closed (default):
    when the store cannot be written, `record` and `flush` raise `AuditUnavailable`; unwritten
    events are kept and retried, never dropped. Fail open: the same failures log a warning.

    Example:
        >>> with open_audit("sqlite:///audit.sqlite") as audit:
        ...     audit.record(AuditEvent(event_type="route", tenant="t", user="u",
        ...                             thread="th-1", payload={"intent": "radiology"}))
        ...     audit.flush()  # at the end of the turn
        ...     assert audit.verify().ok
    """

    def __init__(
        self,
        store: AuditStore,
        *,
        fail_open: bool = False,
        batch: bool = True,
        max_queue: int = 10_000,
        batch_size: int = 256,
        put_timeout_s: float = 5.0,
        needs_setup: bool = False,
    ) -> None:
        self.store = store
        self._needs_setup = needs_setup
        self.fail_open = fail_open
        self.batch = batch
        self.max_queue = max_queue
        self.batch_size = batch_size
        self.put_timeout_s = put_timeout_s
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=max_queue)
        self._pending: list[AuditEvent] = []
        self._error: AuditUnavailable | None = None
        self._write_lock = threading.Lock()
        self._closed = False
        self._writer: threading.Thread | None = None
        if batch:
            self._writer = threading.Thread(target=self._run, name="audit-writer", daemon=True)
            self._writer.start()

    def __enter__(self) -> AuditTrail:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _fail(self, error: AuditUnavailable) -> None:
        if not self.fail_open:
            raise error
        logger.warning(
            "AUDIT NOT WRITTEN (fail-open) store=%s pending=%d error=%s",
            self.store.where,
            len(self._pending),
            error,
        )

    def _write_pending(self) -> None:
        """Try to store everything pending; keep it pending on failure."""
        with self._write_lock:
            if not self._pending:
                return
            events = list(self._pending)
            try:
                if self._needs_setup:
                    self.store.setup()
                    self._needs_setup = False
                self.store.append(
                    lambda prev_id, prev_hash: seal_events(events, prev_id, prev_hash)
                )
            except AuditUnavailable as exc:
                self._error = exc
                logger.error(
                    "audit write failed store=%s pending=%d error=%s",
                    self.store.where,
                    len(self._pending),
                    exc,
                )
                if self.fail_open and len(self._pending) > self.max_queue:
                    dropped = len(self._pending) - self.max_queue
                    del self._pending[:dropped]
                    logger.error("AUDIT EVENTS DROPPED (fail-open) count=%d", dropped)
                return
            del self._pending[: len(events)]
            self._error = None

    def _run(self) -> None:
        while True:
            items = [self._queue.get()]
            while len(items) < self.batch_size:
                try:
                    items.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            with self._write_lock:
                self._pending.extend(i for i in items if isinstance(i, AuditEvent))
            self._write_pending()
            for item in items:
                if isinstance(item, _Flush):
                    item.error = self._error
                    item.done.set()
            if any(item is _STOP for item in items):
                return

    def record(self, event: AuditEvent) -> None:
        """Queue one event (write it now when batching is off).

        Raises:
            AuditUnavailable: fail closed and the store is failing, or the queue stayed full.
        """
        if self._closed:
            raise AuditUnavailable("the audit trail is closed")
        if not self.batch:
            with self._write_lock:
                self._pending.append(event)
            self._write_pending()
            if self._error is not None:
                self._fail(self._error)
            return
        try:
            self._queue.put(event, timeout=self.put_timeout_s)
        except queue.Full as exc:
            error = AuditUnavailable(
                f"audit queue full ({self.max_queue} events) for {self.put_timeout_s}s; "
                f"store {self.store.where} is not keeping up"
            )
            if not self.fail_open:
                raise error from exc
            self._fail(error)
            return
        if self._error is not None:
            self._fail(self._error)

    def record_many(self, events: Iterable[AuditEvent]) -> None:
        """Queue several events in order."""
        for event in events:
            self.record(event)

    def flush(self, timeout_s: float = 30.0) -> None:
        """Wait until everything recorded so far is stored (retrying earlier failures).

        Raises:
            AuditUnavailable: fail closed and some events could not be stored.
        """
        if not self.batch:
            self._write_pending()
            if self._error is not None:
                self._fail(self._error)
            return
        marker = _Flush()
        try:
            self._queue.put(marker, timeout=timeout_s)
        except queue.Full:
            self._fail(AuditUnavailable(f"audit queue still full after {timeout_s}s"))
            return
        if not marker.done.wait(timeout_s):
            self._fail(AuditUnavailable(f"audit flush timed out after {timeout_s}s"))
            return
        if marker.error is not None:
            self._fail(marker.error)

    def close(self) -> None:
        """Flush, stop the writer and release the store; fail closed if events remain."""
        if self._closed:
            return
        self._closed = True
        try:
            if self._writer is not None:
                self._queue.put(_STOP)
                self._writer.join()
            if self._pending:
                self._write_pending()
            if self._pending:
                self._fail(
                    AuditUnavailable(
                        f"{len(self._pending)} audit events could not be written to "
                        f"{self.store.where}: {self._error}"
                    )
                )
        finally:
            self.store.close()

    def verify(self) -> VerifyResult:
        """Walk the whole chain and report the first broken row."""
        return verify_rows(self.store.rows())

    def tail(self, n: int = 20) -> list[AuditRecord]:
        """The last `n` records, oldest first."""
        return [to_record(r) for r in self.store.tail(n)]

    def for_thread(self, thread_id: str) -> list[AuditRecord]:
        """Every record of one thread, oldest first."""
        return [to_record(r) for r in self.store.for_thread(thread_id)]

    def records(self) -> Iterator[AuditRecord]:
        """Every record, oldest first, streamed."""
        return (to_record(r) for r in self.store.rows())

    def export_jsonl(self, fileobj: IO[str]) -> int:
        """Write every record as one JSON line; return how many were written."""
        count = 0
        for record in self.records():
            fileobj.write(record.model_dump_json() + "\n")
            count += 1
        return count


def open_audit(
    url: str,
    *,
    fail_open: bool = False,
    batch: bool = True,
    table: str = "audit_log",
    max_queue: int = 10_000,
    timeout_s: float = 5.0,
) -> AuditTrail:
    """Open the audit trail a URL names (`postgresql://…` or `sqlite:///path`), tables ready.

    Raises:
        ConfigError: the URL is malformed or unsupported.
        AuditUnavailable: fail closed and the store cannot be reached or set up. Fail open
            logs a warning instead and retries on every write.
    """
    store = open_store(url, table=table, timeout_s=timeout_s)
    needs_setup = False
    try:
        store.setup()
    except AuditUnavailable as exc:
        if not fail_open:
            store.close()
            raise
        logger.warning("AUDIT STORE UNAVAILABLE AT START (fail-open) error=%s", exc)
        needs_setup = True
    return AuditTrail(
        store, fail_open=fail_open, batch=batch, max_queue=max_queue, needs_setup=needs_setup
    )
