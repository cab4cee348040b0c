"""The server's durable records on plain Redis: threads per tenant, runs, run events, workers.

Checkpoints live in the graph's checkpointer; this store holds what the LangGraph Server API
adds around them. Every thread is addressed with its tenant, so one tenant cannot name
another's thread. Creating a run takes the thread's single run slot atomically.

Usage:
    async with ServerStore.from_url("redis://localhost:6379/0") as store:
        thread = await store.create_thread("st-marys", "t-1", {"ward": "icu"}, if_exists="raise")
"""

from __future__ import annotations

import json
from types import TracebackType
from typing import Any, Literal

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from app.server import store_scripts as keys
from app.server.records import (
    RunRecord,
    RunStatus,
    StreamEvent,
    ThreadRecord,
    ThreadStatus,
    now,
    parse_run,
    parse_thread,
)
from state.checkpointer import redact_url
from state.errors import Conflict, NotFound, StateUnavailable
from state.schema import Attachment

DEFAULT_PREFIX = "medgraph:srv"


class ServerStore:
    """Threads, runs, run events and worker heartbeats on one Redis (asyncio client)."""

    def __init__(
        self, client: aioredis.Redis, *, prefix: str = DEFAULT_PREFIX, url: str = ""
    ) -> None:
        self.client = client
        self.prefix = prefix
        self.safe_url = redact_url(url) if url else "redis"
        self._scripts = {name: client.register_script(src) for name, src in keys.SCRIPTS.items()}

    @classmethod
    def from_url(
        cls, url: str, *, prefix: str = DEFAULT_PREFIX, max_connections: int = 64
    ) -> ServerStore:
        """A store on the Redis at `url` (connections are made lazily)."""
        pool = aioredis.BlockingConnectionPool.from_url(
            url, max_connections=max_connections, timeout=10, socket_timeout=10
        )
        return cls(
            aioredis.Redis(connection_pool=pool, decode_responses=False), prefix=prefix, url=url
        )

    async def __aenter__(self) -> ServerStore:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.client.aclose()

    def unavailable(self, exc: RedisError) -> StateUnavailable:
        """The error to raise when Redis fails, naming the (password-free) URL."""
        return StateUnavailable(f"server store {self.safe_url} is unavailable: {exc}")

    async def ping(self) -> None:
        """Check that Redis answers."""
        try:
            await self.client.ping()
        except RedisError as exc:
            raise self.unavailable(exc) from exc

    async def _hash(self, key: str) -> dict[str, str]:
        try:
            raw = await self.client.hgetall(key)
        except RedisError as exc:
            raise self.unavailable(exc) from exc
        return {k.decode(): v.decode() for k, v in raw.items()}

    # Threads.

    async def create_thread(
        self,
        tenant: str,
        thread_id: str,
        metadata: dict[str, Any],
        *,
        if_exists: Literal["raise", "do_nothing"],
    ) -> ThreadRecord:
        """Create a thread of `tenant`; an existing id is a `Conflict` unless `do_nothing`."""
        key = keys.thread_key(self.prefix, tenant, thread_id)
        iso, score = now()
        try:
            created = await self.client.hsetnx(key, "thread_id", thread_id)
            if created:
                await self.client.hset(
                    key,
                    mapping={
                        "tenant": tenant,
                        "created_at": iso,
                        "updated_at": iso,
                        "metadata": json.dumps(metadata),
                        "status": "idle",
                        "active_run": "",
                        "error": "",
                    },
                )
                await self.client.zadd(keys.threads_key(self.prefix, tenant), {thread_id: score})
        except RedisError as exc:
            raise self.unavailable(exc) from exc
        if not created and if_exists == "raise":
            raise Conflict(f"thread {thread_id} already exists")
        return await self.thread(tenant, thread_id)

    async def find_thread(self, tenant: str, thread_id: str) -> ThreadRecord | None:
        """The tenant's thread, or None."""
        raw = await self._hash(keys.thread_key(self.prefix, tenant, thread_id))
        return parse_thread(raw) if raw.get("created_at") else None

    async def thread(self, tenant: str, thread_id: str) -> ThreadRecord:
        """The tenant's thread; `NotFound` when it is missing or another tenant's."""
        record = await self.find_thread(tenant, thread_id)
        if record is None:
            raise NotFound(f"thread {thread_id} not found")
        return record

    async def thread_ids(self, tenant: str, *, newest_first: bool = True) -> list[str]:
        """Every thread id of the tenant, by last update."""
        index = keys.threads_key(self.prefix, tenant)
        try:
            raw = await (
                self.client.zrevrange(index, 0, -1)
                if newest_first
                else self.client.zrange(index, 0, -1)
            )
        except RedisError as exc:
            raise self.unavailable(exc) from exc
        return [r.decode() for r in raw]

    async def update_metadata(self, tenant: str, thread_id: str, extra: dict[str, Any]) -> None:
        """Add keys to a thread's metadata where they are not set yet."""
        record = await self.thread(tenant, thread_id)
        merged = {**extra, **record.metadata}
        if merged != record.metadata:
            key = keys.thread_key(self.prefix, tenant, thread_id)
            try:
                await self.client.hset(key, "metadata", json.dumps(merged))
            except RedisError as exc:
                raise self.unavailable(exc) from exc

    async def delete_thread(self, tenant: str, thread_id: str) -> None:
        """Delete a thread and its runs; a thread with a run in progress is a `Conflict`."""
        outcome = await self._call(
            "delete_thread",
            [
                keys.thread_key(self.prefix, tenant, thread_id),
                keys.threads_key(self.prefix, tenant),
                keys.thread_runs_key(self.prefix, tenant, thread_id),
            ],
            [thread_id, keys.run_key(self.prefix, ""), keys.events_key(self.prefix, "")],
        )
        if outcome == "missing":
            raise NotFound(f"thread {thread_id} not found")
        if outcome != "ok":
            raise Conflict(f"thread {thread_id} has run {outcome} in progress; cancel it first")

    # Runs.

    async def create_run(self, run: RunRecord, *, create_thread: bool) -> RunRecord:
        """Store a new run and take the thread's run slot; a busy thread is a `Conflict`."""
        _, score = now()
        outcome = await self._call(
            "create_run",
            [
                keys.thread_key(self.prefix, run.tenant, run.thread_id),
                keys.threads_key(self.prefix, run.tenant),
                keys.thread_runs_key(self.prefix, run.tenant, run.thread_id),
                keys.run_key(self.prefix, run.run_id),
                self._active,
            ],
            [
                run.run_id,
                run.thread_id,
                run.tenant,
                run.created_at,
                str(score),
                "1" if create_thread else "0",
                "{}",
                *run.fields(),
            ],
        )
        if outcome == "missing":
            raise NotFound(f"thread {run.thread_id} not found")
        if outcome != "ok":
            raise Conflict(
                f"thread {run.thread_id} already has run {outcome} in progress; this server "
                "rejects a second concurrent run on a thread (multitask_strategy 'reject'): "
                "join or cancel that run first"
            )
        return run

    async def find_run(self, run_id: str) -> RunRecord | None:
        """A run by id, whoever owns it (for the run manager), or None."""
        raw = await self._hash(keys.run_key(self.prefix, run_id))
        return parse_run(raw) if raw.get("run_id") else None

    async def run(self, tenant: str, thread_id: str, run_id: str) -> RunRecord:
        """The tenant's run on that thread; `NotFound` otherwise."""
        record = await self.find_run(run_id)
        if record is None or record.tenant != tenant or record.thread_id != thread_id:
            raise NotFound(f"run {run_id} not found on thread {thread_id}")
        return record

    async def runs_of(
        self, tenant: str, thread_id: str, limit: int, offset: int
    ) -> list[RunRecord]:
        """The thread's runs, newest first."""
        await self.thread(tenant, thread_id)
        index = keys.thread_runs_key(self.prefix, tenant, thread_id)
        try:
            ids = await self.client.zrevrange(index, offset, offset + limit - 1)
        except RedisError as exc:
            raise self.unavailable(exc) from exc
        found = [await self.find_run(i.decode()) for i in ids]
        return [r for r in found if r is not None]

    async def set_running(self, run_id: str) -> None:
        """Mark a run as running."""
        iso, _ = now()
        try:
            await self.client.hset(
                keys.run_key(self.prefix, run_id), mapping={"status": "running", "updated_at": iso}
            )
        except RedisError as exc:
            raise self.unavailable(exc) from exc

    async def finish_run(
        self,
        run: RunRecord,
        status: RunStatus,
        thread_status: ThreadStatus,
        *,
        worker: str,
        events_ttl_s: int,
        error: dict[str, Any] | None = None,
    ) -> bool:
        """Record a run's end, free the thread and close the event stream (owner only)."""
        iso, score = now()
        done = await self._call(
            "finish_run",
            [
                keys.run_key(self.prefix, run.run_id),
                keys.thread_key(self.prefix, run.tenant, run.thread_id),
                self._active,
                keys.events_key(self.prefix, run.run_id),
                keys.threads_key(self.prefix, run.tenant),
            ],
            [
                run.run_id,
                status,
                thread_status,
                iso,
                str(score),
                str(events_ttl_s),
                worker,
                json.dumps(error) if error else "",
                run.thread_id,
            ],
        )
        return bool(done)

    async def release_run(self, run_id: str, worker: str) -> bool:
        """Give an unfinished run back (pending, no owner) so another worker resumes it."""
        return bool(await self._call("release_run", [keys.run_key(self.prefix, run_id)], [worker]))

    async def claim_run(self, run_id: str, worker: str) -> bool:
        """Take over a pending or running run whose worker is gone; True when taken."""
        return bool(
            await self._call(
                "claim_run",
                [keys.run_key(self.prefix, run_id)],
                [worker, keys.worker_key(self.prefix, "")],
            )
        )

    async def active_run_ids(self) -> list[str]:
        """Runs that are pending or running on any worker."""
        try:
            return [r.decode() for r in await self.client.smembers(self._active)]
        except RedisError as exc:
            raise self.unavailable(exc) from exc

    async def request_cancel(self, run_id: str) -> None:
        """Flag a run as cancelled and tell every worker."""
        try:
            await self.client.hset(keys.run_key(self.prefix, run_id), "cancel", "1")
            await self.client.publish(self.cancel_channel, run_id)
        except RedisError as exc:
            raise self.unavailable(exc) from exc

    @property
    def cancel_channel(self) -> str:
        """The pub/sub channel carrying cancelled run ids."""
        return f"{self.prefix}:cancel"

    @property
    def _active(self) -> str:
        return f"{self.prefix}:runs:active"

    # Events.

    async def publish(self, run_id: str, event: str, data: bytes, *, max_len: int = 20_000) -> str:
        """Append one event to a run's stream; returns its id."""
        try:
            event_id = await self.client.xadd(
                keys.events_key(self.prefix, run_id),
                {"event": event, "data": data},
                maxlen=max_len,
                approximate=True,
            )
        except RedisError as exc:
            raise self.unavailable(exc) from exc
        return event_id.decode()

    async def read_events(self, run_id: str, after: str, block_ms: int) -> list[StreamEvent]:
        """Events after id `after` ("0" = from the start), waiting up to `block_ms` for one."""
        key = keys.events_key(self.prefix, run_id)
        try:
            reply = await self.client.xread({key: after}, count=200, block=block_ms)
        except RedisError as exc:
            raise self.unavailable(exc) from exc
        events: list[StreamEvent] = []
        for _, entries in reply or []:
            for event_id, values in entries:
                events.append(
                    StreamEvent(event_id.decode(), values[b"event"].decode(), values[b"data"])
                )
        return events

    async def last_event_id(self, run_id: str) -> str:
        """The id of the newest event of a run ("0" when there is none)."""
        try:
            newest = await self.client.xrevrange(keys.events_key(self.prefix, run_id), count=1)
        except RedisError as exc:
            raise self.unavailable(exc) from exc
        return newest[0][0].decode() if newest else "0"

    # Workers.

    async def heartbeat(self, worker: str, lease_s: float) -> None:
        """Say this worker is alive for the next `lease_s` seconds."""
        try:
            await self.client.set(
                keys.worker_key(self.prefix, worker), b"1", px=int(lease_s * 1000)
            )
        except RedisError as exc:
            raise self.unavailable(exc) from exc

    async def retire(self, worker: str) -> None:
        """Drop this worker's heartbeat (its released runs may be taken at once)."""
        try:
            await self.client.delete(keys.worker_key(self.prefix, worker))
        except RedisError as exc:
            raise self.unavailable(exc) from exc

    # Uploads.

    async def save_upload(
        self, tenant: str, upload_id: str, attachment: Attachment, ttl_s: int
    ) -> None:
        """Remember an uploaded attachment for the tenant for `ttl_s` seconds."""
        key = keys.upload_key(self.prefix, tenant, upload_id)
        try:
            await self.client.set(key, attachment.model_dump_json(), ex=ttl_s)
        except RedisError as exc:
            raise self.unavailable(exc) from exc

    async def upload(self, tenant: str, upload_id: str) -> Attachment:
        """The tenant's upload; `NotFound` when unknown, expired or another tenant's."""
        try:
            raw = await self.client.get(keys.upload_key(self.prefix, tenant, upload_id))
        except RedisError as exc:
            raise self.unavailable(exc) from exc
        if raw is None:
            raise NotFound(f"upload {upload_id} not found (uploads expire after a day)")
        return Attachment.model_validate_json(raw)

    async def _call(self, script: str, script_keys: list[str], args: list[str]) -> str | int:
        try:
            result = await self._scripts[script](keys=script_keys, args=args)
        except RedisError as exc:
            raise self.unavailable(exc) from exc
        return result.decode() if isinstance(result, bytes) else int(result)
