"""A LangGraph checkpointer on plain Redis commands (hashes, sorted sets, Lua; no modules)."""

from __future__ import annotations

import asyncio
import heapq
import json
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from typing import Any, TypeVar

import redis
import redis.asyncio as aredis
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
_LIST_CHUNK = 64
_DELTA_METADATA_KEYS = ("counters_since_delta_snapshot", "delta_writes_versioned")
_SCRIPTS = {
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


def _unavailable(where: str, exc: redis.RedisError) -> StateUnavailable:
    if isinstance(exc, redis.TimeoutError):
        reason = "timed out"
    elif isinstance(exc, redis.ConnectionError):
        reason = "is unreachable"
    else:
        reason = "rejected a command"
    return StateUnavailable(f"checkpoint store Redis at {where} {reason}: {exc}")


def _pack(typed: tuple[str, bytes | None]) -> bytes:
    return typed[0].encode() + b"\0" + (typed[1] or b"")


def _unpack(raw: bytes) -> tuple[str, bytes]:
    kind, _, data = raw.partition(b"\0")
    return kind.decode(), data


class _RedisSaverBase(BaseCheckpointSaver[str]):
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
        delta = any(k in meta for k in _DELTA_METADATA_KEYS) or any(
            isinstance(v, _DeltaSnapshot) for v in values.values()
        )
        blob_pairs: list[Any] = []
        for channel, version in new_versions.items():
            blob_pairs.append(json.dumps([channel, str(version)]))
            blob_pairs.append(
                _pack(self.serde.dumps_typed(values[channel])) if channel in values else b"empty\0"
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
            _pack(self.serde.dumps_typed(stored)),
            _pack(self.serde.dumps_typed(meta)),
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
            args += [member, header + b"\n" + _pack(self.serde.dumps_typed(value)), int(special)]
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
        checkpoint: dict[str, Any] = self.serde.loads_typed(_unpack(cp_raw))
        channel_values: dict[str, Any] = {}
        for field, value in zip(fields, values, strict=True):
            if value is None:
                continue
            kind, data = _unpack(value)
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
                    (task_id, channel, self.serde.loads_typed(_unpack(payload))),
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
            metadata=self.serde.loads_typed(_unpack(md_raw)),
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
        metadata = self.serde.loads_typed(_unpack(raw))
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


class RedisSaver(_RedisSaverBase):
    """Checkpointer that stores LangGraph checkpoints in plain Redis (≥ 6, Valkey; no modules).

    Every `put` and `put_writes` is one Lua script, so a checkpoint with its blobs, or a batch
    of writes, lands atomically; the latest checkpoint of a thread is one `ZREVRANGE 0 0`.
    With `ttl_s`, every key of a thread expires `ttl_s` seconds after its last write.
    The async methods run the sync ones in a worker thread; use `AsyncRedisSaver` on an
    event loop for native asyncio I/O.

    Example:
        >>> from state.redis_saver import RedisSaver
        >>> with RedisSaver.from_url("redis://localhost:6379/0", ttl_s=86400) as saver:
        ...     graph = builder.compile(checkpointer=saver)
        ...     graph.invoke(inputs, {"configurable": {"thread_id": "t-1"}})
    """

    def __init__(
        self,
        client: redis.Redis,
        *,
        prefix: str = DEFAULT_PREFIX,
        ttl_s: int | None = None,
        serde: SerializerProtocol | None = None,
    ) -> None:
        super().__init__(
            where=describe_pool(client.connection_pool.connection_kwargs),
            prefix=prefix,
            ttl_s=ttl_s,
            serde=serde,
        )
        self.client = client
        self._scripts = {name: client.register_script(src) for name, src in _SCRIPTS.items()}

    @classmethod
    @contextmanager
    def from_url(
        cls,
        url: str,
        *,
        prefix: str = DEFAULT_PREFIX,
        ttl_s: int | None = None,
        socket_timeout_s: float = 5.0,
        max_connections: int = 64,
        retries: int = 1,
    ) -> Iterator[RedisSaver]:
        """Open a pooled client on `url`, check Redis answers, and close the pool on exit."""
        pool = redis.BlockingConnectionPool.from_url(
            url, **pool_options(socket_timeout_s, max_connections, retries)
        )
        client = redis.Redis(connection_pool=pool)
        try:
            saver = cls(client, prefix=prefix, ttl_s=ttl_s)
            saver.setup()
            yield saver
        finally:
            client.close()
            pool.disconnect()

    def _call(self, fn: Callable[[], T]) -> T:
        try:
            return fn()
        except redis.RedisError as exc:
            raise _unavailable(self.where, exc) from exc

    def setup(self) -> None:
        """Check that Redis answers and load the Lua scripts."""

        def load() -> None:
            self.client.ping()
            for script in self._scripts.values():
                script.sha = self.client.script_load(script.script)

        self._call(load)

    def get_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        """Fetch the checkpoint named by `config`, or the thread's latest one."""
        configurable = config["configurable"]
        thread_id = str(configurable["thread_id"])
        ns = configurable.get("checkpoint_ns", "")
        args = self._get_args(thread_id, ns, get_checkpoint_id(config))
        raw = self._call(lambda: self._scripts["get"](args=args))
        return self._decode(thread_id, ns, raw) if raw else None

    def _namespaces(self, escaped_thread: str) -> list[str]:
        key = rs.thread_key(self.prefix, escaped_thread, "ns")
        return [v.decode() for v in self._call(lambda: self.client.hvals(key))]

    def _threads(self) -> list[str]:
        pattern = rs.thread_pattern(self.prefix)
        keys = self._call(lambda: list(self.client.scan_iter(match=pattern, count=1000)))
        start = len(self.prefix) + 2
        return sorted(rs.unescape(k.decode()[start:-4]) for k in keys)

    def _ids(self, thread_id: str, ns: str, before: RunnableConfig | None) -> list[str]:
        key = rs.thread_key(self.prefix, rs.escape(thread_id), "i", rs.escape(ns))
        high, low = self._id_range(before)
        return [m.decode() for m in self._call(lambda: self.client.zrevrangebylex(key, high, low))]

    def list(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> Iterator[CheckpointTuple]:
        """List checkpoints newest first; by thread/namespace, metadata, `before`, `limit`."""
        threads = [str(config["configurable"]["thread_id"])] if config else self._threads()
        wanted_id = get_checkpoint_id(config) if config else None
        streams = []
        for thread_id in threads:
            ns_given = config["configurable"].get("checkpoint_ns") if config else None
            namespaces = (
                [ns_given] if ns_given is not None else self._namespaces(rs.escape(thread_id))
            )
            for ns in namespaces:
                ids = self._ids(thread_id, ns, before)
                if wanted_id:
                    ids = [i for i in ids if i == rs.escape(wanted_id)]
                streams.append([(i, thread_id, ns) for i in ids])
        candidates = list(heapq.merge(*streams, key=lambda c: c[0], reverse=True))
        remaining = limit
        for start in range(0, len(candidates), _LIST_CHUNK):
            chunk = candidates[start : start + _LIST_CHUNK]
            if filter:
                chunk = self._filter(chunk, filter)
            if remaining is not None:
                chunk = chunk[:remaining]
            pipe = self.client.pipeline(transaction=False)
            for cid, thread_id, ns in chunk:
                self._scripts["get"](args=self._get_args(thread_id, ns, cid), client=pipe)
            raws = self._call(pipe.execute)
            for (_, thread_id, ns), raw in zip(chunk, raws, strict=True):
                if raw:
                    yield self._decode(thread_id, ns, raw)
                    if remaining is not None:
                        remaining -= 1
            if remaining is not None and remaining <= 0:
                return

    def _filter(
        self, chunk: list[tuple[str, str, str]], filter: dict[str, Any]
    ) -> list[tuple[str, str, str]]:
        pipe = self.client.pipeline(transaction=False)
        for cid, thread_id, ns in chunk:
            key = rs.thread_key(self.prefix, rs.escape(thread_id), "c", rs.escape(ns))
            pipe.hget(key, f"{cid}\0md")
        raws = self._call(pipe.execute)
        matches = [self._metadata_matches(raw, filter) for raw in raws]
        return [c for c, match in zip(chunk, matches, strict=True) if match]

    def put(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        """Store a checkpoint, its new channel blobs and its run index in one Lua call."""
        args, next_config = self._put_args(config, checkpoint, metadata, new_versions)
        self._call(lambda: self._scripts["put"](args=args))
        return next_config

    def put_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        """Store a task's pending writes for a checkpoint in one Lua call (idempotent)."""
        if not writes:
            return
        args = self._writes_args(config, writes, task_id, task_path)
        self._call(lambda: self._scripts["put_writes"](args=args))

    def delete_thread(self, thread_id: str) -> None:
        """Delete every checkpoint, blob and write of a thread, in all namespaces."""
        args = [self.prefix, rs.escape(str(thread_id))]
        self._call(lambda: self._scripts["delete_thread"](args=args))

    def delete_for_runs(self, run_ids: Sequence[str]) -> None:
        """Delete the checkpoints (and their writes) that the given runs created."""
        if not run_ids:
            return
        args = [self.prefix, *(rs.escape(str(r)) for r in run_ids)]
        self._call(lambda: self._scripts["delete_for_runs"](args=args))

    def copy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        """Copy every checkpoint, blob and write of a thread to another thread."""
        args = [
            self.prefix,
            self._ttl,
            rs.escape(str(source_thread_id)),
            rs.escape(str(target_thread_id)),
        ]
        self._call(lambda: self._scripts["copy_thread"](args=args))

    def prune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> None:
        """Keep only the latest checkpoint per namespace (`keep_latest`) or delete threads.

        `keep_latest` refuses, pruning nothing, when a thread stores DeltaChannel data.
        """
        escaped = self._check_prune(thread_ids, strategy)
        if not escaped:
            return
        args = [self.prefix, self._ttl, strategy, *escaped]
        refused = self._call(lambda: self._scripts["prune"](args=args))
        self._refuse_delta(refused.decode())

    async def aget_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        """Async `get_tuple`, run in a worker thread."""
        return await asyncio.to_thread(self.get_tuple, config)

    async def alist(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[CheckpointTuple]:
        """Async `list`, materialised in a worker thread."""
        found = await asyncio.to_thread(
            lambda: list(self.list(config, filter=filter, before=before, limit=limit))
        )
        for item in found:
            yield item

    async def aput(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        """Async `put`, run in a worker thread."""
        return await asyncio.to_thread(self.put, config, checkpoint, metadata, new_versions)

    async def aput_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        """Async `put_writes`, run in a worker thread."""
        await asyncio.to_thread(self.put_writes, config, writes, task_id, task_path)

    async def adelete_thread(self, thread_id: str) -> None:
        """Async `delete_thread`, run in a worker thread."""
        await asyncio.to_thread(self.delete_thread, thread_id)

    async def adelete_for_runs(self, run_ids: Sequence[str]) -> None:
        """Async `delete_for_runs`, run in a worker thread."""
        await asyncio.to_thread(self.delete_for_runs, run_ids)

    async def acopy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        """Async `copy_thread`, run in a worker thread."""
        await asyncio.to_thread(self.copy_thread, source_thread_id, target_thread_id)

    async def aprune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> None:
        """Async `prune`, run in a worker thread."""
        await asyncio.to_thread(self.prune, thread_ids, strategy=strategy)


class AsyncRedisSaver(_RedisSaverBase):
    """Async twin of `RedisSaver` on `redis.asyncio`, with the same keys and scripts.

    Example:
        >>> from state.redis_saver import AsyncRedisSaver
        >>> async with AsyncRedisSaver.from_url("redis://localhost:6379/0") as saver:
        ...     graph = builder.compile(checkpointer=saver)
        ...     await graph.ainvoke(inputs, {"configurable": {"thread_id": "t-1"}})
    """

    def __init__(
        self,
        client: aredis.Redis,
        *,
        prefix: str = DEFAULT_PREFIX,
        ttl_s: int | None = None,
        serde: SerializerProtocol | None = None,
    ) -> None:
        super().__init__(
            where=describe_pool(client.connection_pool.connection_kwargs),
            prefix=prefix,
            ttl_s=ttl_s,
            serde=serde,
        )
        self.client = client
        self._scripts = {name: client.register_script(src) for name, src in _SCRIPTS.items()}
        self.loop = asyncio.get_running_loop()

    @classmethod
    @asynccontextmanager
    async def from_url(
        cls,
        url: str,
        *,
        prefix: str = DEFAULT_PREFIX,
        ttl_s: int | None = None,
        socket_timeout_s: float = 5.0,
        max_connections: int = 64,
        retries: int = 1,
    ) -> AsyncIterator[AsyncRedisSaver]:
        """Open a pooled async client on `url`, check Redis answers, close the pool on exit."""
        pool = aredis.BlockingConnectionPool.from_url(
            url, **pool_options(socket_timeout_s, max_connections, retries)
        )
        client = aredis.Redis(connection_pool=pool)
        try:
            saver = cls(client, prefix=prefix, ttl_s=ttl_s)
            await saver.setup()
            yield saver
        finally:
            await client.aclose()
            await pool.disconnect()

    async def _call(self, awaitable: Awaitable[T]) -> T:
        try:
            return await awaitable
        except redis.RedisError as exc:
            raise _unavailable(self.where, exc) from exc

    async def setup(self) -> None:
        """Check that Redis answers and load the Lua scripts."""

        async def load() -> None:
            await self.client.ping()
            for script in self._scripts.values():
                script.sha = await self.client.script_load(script.script)

        await self._call(load())

    async def aget_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        """Fetch the checkpoint named by `config`, or the thread's latest one."""
        configurable = config["configurable"]
        thread_id = str(configurable["thread_id"])
        ns = configurable.get("checkpoint_ns", "")
        args = self._get_args(thread_id, ns, get_checkpoint_id(config))
        raw = await self._call(self._scripts["get"](args=args))
        return self._decode(thread_id, ns, raw) if raw else None

    async def _namespaces(self, escaped_thread: str) -> list[str]:
        key = rs.thread_key(self.prefix, escaped_thread, "ns")
        return [v.decode() for v in await self._call(self.client.hvals(key))]

    async def _threads(self) -> list[str]:
        pattern = rs.thread_pattern(self.prefix)

        async def scan() -> list[bytes]:
            return [k async for k in self.client.scan_iter(match=pattern, count=1000)]

        start = len(self.prefix) + 2
        return sorted(rs.unescape(k.decode()[start:-4]) for k in await self._call(scan()))

    async def _ids(self, thread_id: str, ns: str, before: RunnableConfig | None) -> list[str]:
        key = rs.thread_key(self.prefix, rs.escape(thread_id), "i", rs.escape(ns))
        high, low = self._id_range(before)
        return [m.decode() for m in await self._call(self.client.zrevrangebylex(key, high, low))]

    async def alist(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[CheckpointTuple]:
        """List checkpoints newest first; by thread/namespace, metadata, `before`, `limit`."""
        threads = [str(config["configurable"]["thread_id"])] if config else await self._threads()
        wanted_id = get_checkpoint_id(config) if config else None
        streams = []
        for thread_id in threads:
            ns_given = config["configurable"].get("checkpoint_ns") if config else None
            namespaces = (
                [ns_given] if ns_given is not None else await self._namespaces(rs.escape(thread_id))
            )
            for ns in namespaces:
                ids = await self._ids(thread_id, ns, before)
                if wanted_id:
                    ids = [i for i in ids if i == rs.escape(wanted_id)]
                streams.append([(i, thread_id, ns) for i in ids])
        candidates = list(heapq.merge(*streams, key=lambda c: c[0], reverse=True))
        remaining = limit
        for start in range(0, len(candidates), _LIST_CHUNK):
            chunk = candidates[start : start + _LIST_CHUNK]
            if filter:
                chunk = await self._filter(chunk, filter)
            if remaining is not None:
                chunk = chunk[:remaining]
            pipe = self.client.pipeline(transaction=False)
            for cid, thread_id, ns in chunk:
                await self._scripts["get"](args=self._get_args(thread_id, ns, cid), client=pipe)
            raws = await self._call(pipe.execute())
            for (_, thread_id, ns), raw in zip(chunk, raws, strict=True):
                if raw:
                    yield self._decode(thread_id, ns, raw)
                    if remaining is not None:
                        remaining -= 1
            if remaining is not None and remaining <= 0:
                return

    async def _filter(
        self, chunk: list[tuple[str, str, str]], filter: dict[str, Any]
    ) -> list[tuple[str, str, str]]:
        pipe = self.client.pipeline(transaction=False)
        for cid, thread_id, ns in chunk:
            key = rs.thread_key(self.prefix, rs.escape(thread_id), "c", rs.escape(ns))
            pipe.hget(key, f"{cid}\0md")
        raws = await self._call(pipe.execute())
        matches = [self._metadata_matches(raw, filter) for raw in raws]
        return [c for c, match in zip(chunk, matches, strict=True) if match]

    async def aput(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        """Store a checkpoint, its new channel blobs and its run index in one Lua call."""
        args, next_config = self._put_args(config, checkpoint, metadata, new_versions)
        await self._call(self._scripts["put"](args=args))
        return next_config

    async def aput_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        """Store a task's pending writes for a checkpoint in one Lua call (idempotent)."""
        if not writes:
            return
        args = self._writes_args(config, writes, task_id, task_path)
        await self._call(self._scripts["put_writes"](args=args))

    async def adelete_thread(self, thread_id: str) -> None:
        """Delete every checkpoint, blob and write of a thread, in all namespaces."""
        args = [self.prefix, rs.escape(str(thread_id))]
        await self._call(self._scripts["delete_thread"](args=args))

    async def adelete_for_runs(self, run_ids: Sequence[str]) -> None:
        """Delete the checkpoints (and their writes) that the given runs created."""
        if not run_ids:
            return
        args = [self.prefix, *(rs.escape(str(r)) for r in run_ids)]
        await self._call(self._scripts["delete_for_runs"](args=args))

    async def acopy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        """Copy every checkpoint, blob and write of a thread to another thread."""
        args = [
            self.prefix,
            self._ttl,
            rs.escape(str(source_thread_id)),
            rs.escape(str(target_thread_id)),
        ]
        await self._call(self._scripts["copy_thread"](args=args))

    async def aprune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> None:
        """Keep only the latest checkpoint per namespace (`keep_latest`) or delete threads."""
        escaped = self._check_prune(thread_ids, strategy)
        if not escaped:
            return
        args = [self.prefix, self._ttl, strategy, *escaped]
        refused = await self._call(self._scripts["prune"](args=args))
        self._refuse_delta(refused.decode())

    def _from_other_thread(self, coro: Awaitable[T]) -> T:
        try:
            running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self.loop:
            raise asyncio.InvalidStateError(
                "Synchronous calls to AsyncRedisSaver are only allowed from a different "
                "thread than the event loop; use the async methods there."
            )
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result()  # type: ignore[arg-type]

    def get_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        """Sync `aget_tuple` for callers on another thread than the saver's event loop."""
        return self._from_other_thread(self.aget_tuple(config))

    def list(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> Iterator[CheckpointTuple]:
        """Sync `alist` for callers on another thread than the saver's event loop."""

        async def collect() -> list[CheckpointTuple]:
            return [t async for t in self.alist(config, filter=filter, before=before, limit=limit)]

        yield from self._from_other_thread(collect())

    def delete_thread(self, thread_id: str) -> None:
        """Sync `adelete_thread` for callers on another thread than the saver's event loop."""
        self._from_other_thread(self.adelete_thread(thread_id))

    def put(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        """Sync `aput` for callers on another thread than the saver's event loop."""
        return self._from_other_thread(self.aput(config, checkpoint, metadata, new_versions))

    def put_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        """Sync `aput_writes` for callers on another thread than the saver's event loop."""
        self._from_other_thread(self.aput_writes(config, writes, task_id, task_path))
