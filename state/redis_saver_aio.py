"""The asyncio twin of the plain-Redis checkpointer, on `redis.asyncio`."""

from __future__ import annotations

import asyncio
import heapq
from collections.abc import AsyncIterator, Awaitable, Iterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import redis
import redis.asyncio as aredis
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


class AsyncRedisSaver(RedisSaverBase):
    """Async twin of `RedisSaver` on `redis.asyncio`, with the same keys and scripts.

    Example:
        >>> from state.redis_saver_aio import AsyncRedisSaver
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
        self._scripts = {name: client.register_script(src) for name, src in SCRIPTS.items()}
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
        serde: SerializerProtocol | None = None,
    ) -> AsyncIterator[AsyncRedisSaver]:
        """Open a pooled async client on `url`, check Redis answers, close the pool on exit."""
        pool = aredis.BlockingConnectionPool.from_url(
            url, **pool_options(socket_timeout_s, max_connections, retries)
        )
        client = aredis.Redis(connection_pool=pool)
        try:
            saver = cls(client, prefix=prefix, ttl_s=ttl_s, serde=serde)
            await saver.setup()
            yield saver
        finally:
            await client.aclose()
            await pool.disconnect()

    async def _call(self, awaitable: Awaitable[T]) -> T:
        try:
            return await awaitable
        except redis.RedisError as exc:
            raise unavailable(self.where, exc) from exc

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
        for start in range(0, len(candidates), LIST_CHUNK):
            chunk = candidates[start : start + LIST_CHUNK]
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
