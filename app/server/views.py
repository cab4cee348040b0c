"""Response shapes of the LangGraph Server API (threads, runs, state, assistants) and JSON encoding.

State values leave the server without the PHI vault (placeholders stay in the text; the mapping
back to real values never crosses the API) and without `answers`, the agents' unguarded drafts
on their way to the output guard.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any
from uuid import UUID, uuid5

import orjson
from fastapi.responses import Response
from langgraph.types import Interrupt, StateSnapshot

from app.server.records import RunRecord, ThreadRecord

GRAPH_ID = "medgraph"
NAMESPACE_GRAPH = UUID("6ba7b821-9dad-11d1-80b4-00c04fd430c8")  # LangGraph Server's namespace
ASSISTANT_ID = str(uuid5(NAMESPACE_GRAPH, GRAPH_ID))
HIDDEN_KEYS = frozenset({"phi_vault", "answers"})


def _default(obj: Any) -> Any:
    if isinstance(obj, Interrupt):
        return interrupt_json(obj)
    if hasattr(obj, "model_dump") and not isinstance(obj, type):
        return obj.model_dump()
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return dataclasses.asdict(obj)
    if isinstance(obj, set | frozenset | tuple):
        return list(obj)
    if isinstance(obj, bytes):
        return obj.decode("utf-8", errors="replace")
    raise TypeError(f"cannot encode {type(obj).__name__} as JSON")


def dumps(value: Any) -> bytes:
    """JSON bytes, encoding pydantic models, messages, dataclasses and interrupts."""
    return orjson.dumps(value, default=_default, option=orjson.OPT_NON_STR_KEYS)


class JSONBytes(Response):
    """A JSON response encoded with `dumps`."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        """Encode the content."""
        return dumps(content)


def interrupt_json(interrupt: Interrupt) -> dict[str, Any]:
    """An interrupt as the sdk reads it: id and value."""
    out: dict[str, Any] = {"id": interrupt.id, "value": interrupt.value}
    schema = getattr(interrupt, "response_schema", None)
    if isinstance(schema, dict):
        out["response_schema"] = schema
    return out


def public_values(values: Any) -> Any:
    """State values (or one node's update) without the keys that never leave the server."""
    if isinstance(values, Mapping):
        return {k: v for k, v in values.items() if k not in HIDDEN_KEYS}
    return values


def public_update(update: Any) -> Any:
    """An `updates` chunk ({node: update}) without hidden keys in any node's update."""
    if isinstance(update, Mapping):
        return {node: public_values(part) for node, part in update.items()}
    return update


def _checkpoint(config: Mapping[str, Any] | None, thread_id: str) -> dict[str, Any] | None:
    configurable = (config or {}).get("configurable", {})
    if not configurable.get("checkpoint_id"):
        return None
    return {
        "thread_id": thread_id,
        "checkpoint_ns": configurable.get("checkpoint_ns", ""),
        "checkpoint_id": configurable["checkpoint_id"],
        "checkpoint_map": None,
    }


def thread_interrupts(state: StateSnapshot | None) -> dict[str, list[dict[str, Any]]]:
    """Pending interrupts per task id."""
    if state is None:
        return {}
    return {
        task.id: [interrupt_json(i) for i in task.interrupts]
        for task in state.tasks
        if task.interrupts
    }


def state_json(state: StateSnapshot, thread_id: str) -> dict[str, Any]:
    """A checkpointed state as the sdk's `ThreadState`."""
    return {
        "values": public_values(state.values),
        "next": list(state.next),
        "tasks": [
            {
                "id": task.id,
                "name": task.name,
                "path": list(task.path),
                "error": None if task.error is None else repr(task.error),
                "interrupts": [interrupt_json(i) for i in task.interrupts],
                "checkpoint": None,
                "state": None,
                "result": public_values(task.result) if task.result is not None else None,
            }
            for task in state.tasks
        ],
        "metadata": dict(state.metadata or {}),
        "created_at": state.created_at,
        "checkpoint": _checkpoint(state.config, thread_id),
        "parent_checkpoint": _checkpoint(state.parent_config, thread_id),
        "interrupts": [interrupt_json(i) for i in state.interrupts],
        "checkpoint_id": (state.config or {}).get("configurable", {}).get("checkpoint_id"),
        "parent_checkpoint_id": (state.parent_config or {})
        .get("configurable", {})
        .get("checkpoint_id"),
    }


def thread_json(record: ThreadRecord, state: StateSnapshot | None) -> dict[str, Any]:
    """A thread as the sdk's `Thread`, with its current values and interrupts."""
    return {
        "thread_id": record.thread_id,
        "created_at": record.created_at,
        "updated_at": record.updated_at,
        "state_updated_at": record.updated_at,
        "metadata": record.metadata,
        "config": {},
        "status": record.status,
        "values": public_values(state.values) if state is not None else None,
        "interrupts": thread_interrupts(state),
        "error": record.error,
    }


def run_json(record: RunRecord) -> dict[str, Any]:
    """A run as the sdk's `Run`."""
    return {
        "run_id": record.run_id,
        "thread_id": record.thread_id,
        "assistant_id": record.assistant_id,
        "created_at": record.created_at,
        "updated_at": record.updated_at,
        "status": record.status,
        "metadata": record.metadata,
        "kwargs": {"stream_mode": record.kwargs.get("stream_mode", ["values"])},
        "multitask_strategy": "reject",
    }


def assistant_json(created_at: str) -> dict[str, Any]:
    """The one assistant this server exposes: the MedGraph supervisor graph."""
    return {
        "assistant_id": ASSISTANT_ID,
        "graph_id": GRAPH_ID,
        "name": GRAPH_ID,
        "description": "MedGraph supervisor: guards, routing, radiology, documents, tutor, policy",
        "config": {},
        "context": {},
        "metadata": {"created_by": "system"},
        "version": 1,
        "created_at": created_at,
        "updated_at": created_at,
    }
