"""A LangGraph checkpointer on plain Redis commands (hashes, sorted sets, Lua; no modules)."""

from __future__ import annotations

import asyncio
import heapq
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import redis
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
    get_checkpoint_id,
)
from langgraph.checkpoint.serde.base import SerializerProtocol

from state import redis_scripts as rs
from state.redis_saver_base import (
    DEFAULT_PREFIX,
    LIST_CHUNK,
    SCRIPTS,
    RedisSaverBase,
    T,
    describe_pool,
    pool_options,
    unavailable,
)


class RedisSaver(RedisSaverBase):
    """Checkpointer that stores LangGraph checkpoints in plain Redis (≥ 6, Valkey; no modules).

    Every `put` and `put_writes` is one Lua script, so a checkpoint with its blobs, or a batch
    of writes, lands atomically; the latest checkpoint of a thread is one `ZREVRANGE 0 0`.
    With `ttl_s`, every key of a thread expires `ttl_s` seconds after its last write.
    The async methods run the sync ones in a worker thread; use `AsyncRedisSaver`
    (`state.redis_saver_aio`) on an
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
        self._scripts = {name: client.register_script(src) for name, src in SCRIPTS.items()}

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
        serde: SerializerProtocol | None = None,
    ) -> Iterator[RedisSaver]:
        """Open a pooled client on `url`, check Redis answers, and close the pool on exit."""
        pool = redis.BlockingConnectionPool.from_url(
            url, **pool_options(socket_timeout_s, max_connections, retries)
        )
        client = redis.Redis(connection_pool=pool)
        try:
            saver = cls(client, prefix=prefix, ttl_s=ttl_s, serde=serde)
            saver.setup()
            yield saver
        finally:
            client.close()
            pool.disconnect()

    def _call(self, fn: Callable[[], T]) -> T:
        try:
            return fn()
        except redis.RedisError as exc:
            raise unavailable(self.where, exc) from exc

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
        for start in range(0, len(candidates), LIST_CHUNK):
            chunk = candidates[start : start + LIST_CHUNK]
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
