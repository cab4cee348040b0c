"""The server's records: threads, runs and stored stream events, and their Redis hash forms."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from state.schema import Role

ThreadStatus = Literal["idle", "busy", "interrupted", "error"]
RunStatus = Literal["pending", "running", "error", "success", "timeout", "interrupted"]
TERMINAL: frozenset[str] = frozenset({"error", "success", "timeout", "interrupted"})


def now() -> tuple[str, float]:
    """The current time as an ISO string and as epoch seconds (for sorted-set scores)."""
    stamp = datetime.now(UTC)
    return stamp.isoformat(), stamp.timestamp()


@dataclass(frozen=True)
class ThreadRecord:
    """A thread as the server keeps it (its values come from the checkpointer)."""

    thread_id: str
    tenant: str
    created_at: str
    updated_at: str
    metadata: dict[str, Any]
    status: ThreadStatus
    active_run: str | None
    error: dict[str, Any] | None


@dataclass(frozen=True)
class RunRecord:
    """A run: who started it on which thread, how, and how far it got."""

    run_id: str
    thread_id: str
    tenant: str
    user: str
    role: Role
    assistant_id: str
    status: RunStatus
    created_at: str
    updated_at: str
    metadata: dict[str, Any] = field(default_factory=dict)
    kwargs: dict[str, Any] = field(default_factory=dict)
    worker: str = ""
    attempt: int = 1
    cancel_requested: bool = False

    def fields(self) -> list[str]:
        """The run as flat field/value pairs for a Redis hash."""
        values = {
            "run_id": self.run_id,
            "thread_id": self.thread_id,
            "tenant": self.tenant,
            "user": self.user,
            "role": self.role,
            "assistant_id": self.assistant_id,
            "status": self.status,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "metadata": json.dumps(self.metadata),
            "kwargs": json.dumps(self.kwargs),
            "worker": self.worker,
            "attempt": str(self.attempt),
            "cancel": "1" if self.cancel_requested else "",
        }
        return [part for pair in values.items() for part in pair]


@dataclass(frozen=True)
class StreamEvent:
    """One stored event of a run's stream; `id` is the Redis stream id (the SSE event id)."""

    id: str
    event: str
    data: bytes


def parse_thread(raw: dict[str, str]) -> ThreadRecord:
    """A thread from its Redis hash."""
    return ThreadRecord(
        thread_id=raw["thread_id"],
        tenant=raw["tenant"],
        created_at=raw["created_at"],
        updated_at=raw["updated_at"],
        metadata=json.loads(raw.get("metadata") or "{}"),
        status=raw.get("status", "idle"),  # type: ignore[arg-type]
        active_run=raw.get("active_run") or None,
        error=json.loads(raw["error"]) if raw.get("error") else None,
    )


def parse_run(raw: dict[str, str]) -> RunRecord:
    """A run from its Redis hash."""
    return RunRecord(
        run_id=raw["run_id"],
        thread_id=raw["thread_id"],
        tenant=raw["tenant"],
        user=raw["user"],
        role=raw["role"],  # type: ignore[arg-type]
        assistant_id=raw["assistant_id"],
        status=raw["status"],  # type: ignore[arg-type]
        created_at=raw["created_at"],
        updated_at=raw["updated_at"],
        metadata=json.loads(raw.get("metadata") or "{}"),
        kwargs=json.loads(raw.get("kwargs") or "{}"),
        worker=raw.get("worker", ""),
        attempt=int(raw.get("attempt") or 1),
        cancel_requested=bool(raw.get("cancel")),
    )
