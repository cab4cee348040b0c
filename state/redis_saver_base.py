"""Shared core of the plain-Redis checkpointers: pool options, value packing, key scripts."""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from typing import Any, TypeVar

import redis
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    WRITES_IDX_MAP,
    BaseCheckpointSaver,
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
    get_checkpoint_id,
    get_serializable_checkpoint_metadata,
    writes_sort_key,
)
from langgraph.checkpoint.serde.base import SerializerProtocol
from langgraph.checkpoint.serde.types import _DeltaSnapshot
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

from state import redis_scripts as rs
from state.errors import StateUnavailable

T = TypeVar("T")

DEFAULT_PREFIX = "medgraph:cp"
LIST_CHUNK = 64
DELTA_METADATA_KEYS = ("counters_since_delta_snapshot", "delta_writes_versioned")
SCRIPTS = {
    "put": rs.PUT,
    "put_writes": rs.PUT_WRITES,
    "get": rs.GET,
    "delete_thread": rs.DELETE_THREAD,
    "delete_for_runs": rs.DELETE_FOR_RUNS,
    "prune": rs.PRUNE,
    "copy_thread": rs.COPY_THREAD,
}


def describe_pool(kwargs: dict[str, Any]) -> str:
    """A password-free URL naming the Redis server a connection pool talks to."""
    if "path" in kwargs:
        return f"unix://{kwargs['path']}?db={kwargs.get('db', 0)}"
    host, port = kwargs.get("host", "localhost"), kwargs.get("port", 6379)
    return f"redis://{host}:{port}/{kwargs.get('db', 0)}"


def pool_options(socket_timeout_s: float, max_connections: int, retries: int) -> dict[str, Any]:
    """Blocking-pool options shared by the sync and async savers (callers wait for a slot)."""
    return {
        "timeout": max(socket_timeout_s, 10.0),
        "socket_timeout": socket_timeout_s,
        "socket_connect_timeout": socket_timeout_s,
        "max_connections": max_connections,
        "retry": Retry(ExponentialBackoff(cap=0.5, base=0.05), retries),
        "health_check_interval": 30,
    }


def unavailable(where: str, exc: redis.RedisError) -> StateUnavailable:
    if isinstance(exc, redis.TimeoutError):
        reason = "timed out"
    elif isinstance(exc, redis.ConnectionError):
        reason = "is unreachable"
    else:
        reason = "rejected a command"
    return StateUnavailable(f"checkpoint store Redis at {where} {reason}: {exc}")


def pack_typed(typed: tuple[str, bytes | None]) -> bytes:
    return typed[0].encode() + b"\0" + (typed[1] or b"")


def unpack_typed(raw: bytes) -> tuple[str, bytes]:
    kind, _, data = raw.partition(b"\0")
    return kind.decode(), data


class RedisSaverBase(BaseCheckpointSaver[str]):
    """Encoding shared by the sync and async savers; no I/O here."""

    def __init__(
        self,
        *,
        where: str,
        prefix: str = DEFAULT_PREFIX,
        ttl_s: int | None = None,
        serde: SerializerProtocol | None = None,
    ) -> None:
        super().__init__(serde=serde)
        if ttl_s is not None and ttl_s <= 0:
            raise ValueError("ttl_s must be a positive number of seconds or None")
        self.where = where
        self.prefix = prefix
        self.ttl_s = ttl_s

    @property
    def _ttl(self) -> str:
        return str(self.ttl_s or 0)

    def _put_args(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> tuple[list[Any], RunnableConfig]:
        configurable = config["configurable"]
        thread_id = str(configurable["thread_id"])
        ns = configurable.get("checkpoint_ns", "")
        values = checkpoint["channel_values"]
        stored = {k: v for k, v in checkpoint.items() if k != "channel_values"}
        meta = get_serializable_checkpoint_metadata(config, metadata)
        delta = any(k in meta for k in DELTA_METADATA_KEYS) or any(
            isinstance(v, _DeltaSnapshot) for v in values.values()
        )
        blob_pairs: list[Any] = []
        for channel, version in new_versions.items():
            blob_pairs.append(json.dumps([channel, str(version)]))
            blob_pairs.append(
                pack_typed(self.serde.dumps_typed(values[channel]))
                if channel in values
                else b"empty\0"
            )
        fields = [json.dumps([k, str(v)]) for k, v in checkpoint["channel_versions"].items()]
        run_id = meta.get("run_id")
        args = [
            self.prefix,
            rs.escape(thread_id),
            self._ttl,
            rs.escape(ns),
            ns,
            rs.escape(checkpoint["id"]),
            pack_typed(self.serde.dumps_typed(stored)),
            pack_typed(self.serde.dumps_typed(meta)),
            rs.escape(configurable["checkpoint_id"]) if configurable.get("checkpoint_id") else "",
            json.dumps(fields),
            rs.escape(str(run_id)) if run_id else "",
            "1" if delta else "0",
            *blob_pairs,
        ]
        next_config: RunnableConfig = {
            "configurable": {
                "thread_id": thread_id,
                "checkpoint_ns": ns,
                "checkpoint_id": checkpoint["id"],
            }
        }
        return args, next_config

    def _writes_args(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str,
    ) -> list[Any]:
        configurable = config["configurable"]
        ns = configurable.get("checkpoint_ns", "")
        cid = rs.escape(configurable["checkpoint_id"])
        args: list[Any] = [
            self.prefix,
            rs.escape(str(configurable["thread_id"])),
            self._ttl,
            rs.escape(ns),
            ns,
        ]
        for idx, (channel, value) in enumerate(writes):
            special = channel in WRITES_IDX_MAP
            member = f"{cid}\0{task_id}\0{WRITES_IDX_MAP.get(channel, idx)}"
            header = json.dumps([task_path, channel]).encode()
            args += [
                member,
                header + b"\n" + pack_typed(self.serde.dumps_typed(value)),
                int(special),
            ]
        return args

    def _get_args(self, thread_id: str, ns: str, checkpoint_id: str | None) -> list[str]:
        return [
            self.prefix,
            rs.escape(thread_id),
            rs.escape(ns),
            rs.escape(checkpoint_id) if checkpoint_id else "",
        ]

    def _decode(self, thread_id: str, ns: str, raw: list[Any]) -> CheckpointTuple:
        cid_raw, cp_raw, md_raw, parent_raw, fields, values, members, writes = raw
        checkpoint_id = rs.unescape(cid_raw.decode())
        checkpoint: dict[str, Any] = self.serde.loads_typed(unpack_typed(cp_raw))
        channel_values: dict[str, Any] = {}
        for field, value in zip(fields, values, strict=True):
            if value is None:
                continue
            kind, data = unpack_typed(value)
            if kind != "empty":
                channel_values[json.loads(field)[0]] = self.serde.loads_typed((kind, data))
        checkpoint["channel_values"] = channel_values
        pending: list[tuple[tuple[str, str, int], tuple[str, str, Any]]] = []
        for member, value in zip(members, writes, strict=True):
            if value is None:
                continue
            _, task_id, idx = member.decode().split("\0")
            header, _, payload = value.partition(b"\n")
            task_path, channel = json.loads(header)
            pending.append(
                (
                    writes_sort_key(task_path, task_id, int(idx)),
                    (task_id, channel, self.serde.loads_typed(unpack_typed(payload))),
                )
            )
        pending.sort(key=lambda item: item[0])
        parent = parent_raw.decode() if parent_raw else ""
        return CheckpointTuple(
            config={
                "configurable": {
                    "thread_id": thread_id,
                    "checkpoint_ns": ns,
                    "checkpoint_id": checkpoint_id,
                }
            },
            checkpoint=checkpoint,  # type: ignore[arg-type]
            metadata=self.serde.loads_typed(unpack_typed(md_raw)),
            parent_config=(
                {
                    "configurable": {
                        "thread_id": thread_id,
                        "checkpoint_ns": ns,
                        "checkpoint_id": rs.unescape(parent),
                    }
                }
                if parent
                else None
            ),
            pending_writes=[write for _, write in pending],
        )

    def _metadata_matches(self, raw: bytes | None, filter: dict[str, Any]) -> bool:
        if raw is None:
            return False
        metadata = self.serde.loads_typed(unpack_typed(raw))
        return all(metadata.get(k) == v for k, v in filter.items())

    @staticmethod
    def _id_range(before: RunnableConfig | None) -> tuple[str, str]:
        before_id = get_checkpoint_id(before) if before else None
        return ("(" + rs.escape(before_id) if before_id else "+"), "-"

    @staticmethod
    def _check_prune(thread_ids: Sequence[str], strategy: str) -> list[str]:
        if isinstance(thread_ids, str):
            raise TypeError("thread_ids must be a sequence of thread IDs, not a str")
        if strategy not in ("keep_latest", "delete"):
            raise ValueError(f"Unknown prune strategy: {strategy!r}")
        return [rs.escape(str(t)) for t in thread_ids]

    @staticmethod
    def _refuse_delta(escaped_thread: str) -> None:
        if escaped_thread:
            raise NotImplementedError(
                "keep_latest can't prune threads that use a DeltaChannel: "
                f"{rs.unescape(escaped_thread)}"
            )

    def get_next_version(self, current: str | int | None, channel: None) -> str:
        """Monotonic string versions with a random tail, as in LangGraph's own savers.

        Blobs are keyed by (channel, version), so the random tail keeps two branches of a
        forked thread that reach the same version number from overwriting each other's blob.
        """
        if current is None:
            current_v = 0
        elif isinstance(current, int):
            current_v = current
        else:
            current_v = int(current.split(".")[0])
        return f"{current_v + 1:032}.{random.random():016}"
