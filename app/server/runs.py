"""Run the graph for API runs in the background: events to Redis, takeover of a dead worker's runs.

A run is an asyncio task of the worker that created it, independent of any HTTP connection, so
a client that disconnects leaves it running. Its events go to the run's Redis stream, where any
worker can serve them. Each worker renews a heartbeat; when one dies (kill -9), another worker
(or the restarted one) claims its unfinished runs and continues them from their last
checkpoint, or starts them again with their stored input when no step was checkpointed. On a
graceful shutdown, runs get `grace_s` to finish; the rest are handed back for takeover.

Usage:
    manager = RunManager(graph, store, auditor, metrics, RunLimits(32, 3600, 10.0))
    await manager.start()
    await manager.submit(run)
    ...
    await manager.shutdown(grace_s=30)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from langchain_core.messages import HumanMessage
from langchain_core.runnables import RunnableConfig
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Command
from redis.exceptions import RedisError

from app.server.events import StreamTranslator
from app.server.logs import run_id_var
from app.server.metrics import ServerMetrics
from app.server.records import RunRecord, RunStatus, ThreadStatus
from app.server.store import ServerStore
from app.server.views import dumps
from graphs.audit_hooks import GraphAuditor
from state.errors import MedGraphError
from state.schema import Attachment

logger = logging.getLogger("medgraph.server.runs")
_ALREADY_DONE = object()  # a taken-over run whose last checkpoint shows it had finished


@dataclass(frozen=True)
class RunLimits:
    """How many runs a worker executes at once, how long events are kept, the worker lease."""

    max_concurrent: int
    events_ttl_s: int
    lease_s: float


def checkpoint_thread_id(tenant: str, thread_id: str) -> str:
    """The checkpointer's thread id: the tenant is part of it, so tenants never share one."""
    return f"{tenant}/{thread_id}"


def run_config(run: RunRecord) -> RunnableConfig:
    """The graph config of a run: thread, user, tenant, role and run ids for nodes and audit."""
    return {
        "configurable": {
            "thread_id": checkpoint_thread_id(run.tenant, run.thread_id),
            "user_id": run.user,
            "tenant_id": run.tenant,
            "user_role": run.role,
            "run_id": run.run_id,
        },
        "recursion_limit": 50,
    }


def stored_input(graph_input: dict[str, Any]) -> dict[str, Any]:
    """A graph input as JSON for the run record (so a taken-over run can start again)."""
    message = graph_input["messages"][0]
    return {
        "text": message.content,
        "message_id": message.id,
        "attachments": [a.model_dump() for a in graph_input["attachments"]],
    }


def graph_input_of(run: RunRecord) -> dict[str, Any] | Command:
    """The graph input (or resume command) a run was created with."""
    if run.kwargs.get("command") is not None:
        return Command(resume=run.kwargs["command"].get("resume"))
    stored = run.kwargs["input"]
    return {
        "messages": [HumanMessage(stored["text"], id=stored["message_id"])],
        "user_id": run.user,
        "tenant_id": run.tenant,
        "attachments": [Attachment.model_validate(a) for a in stored["attachments"]],
    }


class RunManager:
    """Executes this worker's runs and takes over runs of dead workers."""

    def __init__(
        self,
        graph: CompiledStateGraph,
        store: ServerStore,
        auditor: GraphAuditor,
        metrics: ServerMetrics,
        limits: RunLimits,
    ) -> None:
        self.graph = graph
        self.store = store
        self.auditor = auditor
        self.metrics = metrics
        self.limits = limits
        self.worker_id = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._slots = asyncio.Semaphore(limits.max_concurrent)
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._loops: list[asyncio.Task[None]] = []
        self._draining = False
        self._shutting_down = False

    @property
    def accepting(self) -> bool:
        """False once shutdown has begun (new runs are refused with 503)."""
        return not self._draining

    @property
    def in_flight(self) -> int:
        """Runs this worker holds (pending or running)."""
        return len(self._tasks)

    async def start(self) -> None:
        """Announce this worker, then keep its heartbeat, listen for cancels, adopt orphans."""
        await self.store.heartbeat(self.worker_id, self.limits.lease_s)
        self._loops = [
            asyncio.create_task(self._every(self.limits.lease_s / 4, self._heartbeat)),
            asyncio.create_task(self._listen_for_cancels()),
            asyncio.create_task(self._every(self.limits.lease_s / 2, self.adopt_orphans)),
        ]

    async def submit(self, run: RunRecord) -> None:
        """Start a run created by this worker."""
        self._spawn(run, taken_over=False)

    def _spawn(self, run: RunRecord, *, taken_over: bool) -> None:
        task = asyncio.create_task(self._execute(run, taken_over), name=f"run-{run.run_id}")
        self._tasks[run.run_id] = task
        self.metrics.runs_in_flight.set(len(self._tasks))
        task.add_done_callback(lambda _: self._forget(run.run_id))

    def _forget(self, run_id: str) -> None:
        self._tasks.pop(run_id, None)
        self.metrics.runs_in_flight.set(len(self._tasks))

    async def cancel(self, run: RunRecord) -> None:
        """Ask whichever worker runs `run` to stop it (checkpoints so far are kept)."""
        await self.store.request_cancel(run.run_id)
        self._cancel_local(run.run_id)

    async def wait_local(self, run_id: str) -> bool:
        """Wait for a run this worker executes; False when it runs elsewhere (or is done)."""
        task = self._tasks.get(run_id)
        if task is None:
            return False
        await asyncio.wait({task})
        return True

    def _cancel_local(self, run_id: str) -> None:
        task = self._tasks.get(run_id)
        if task is not None:
            task.cancel("cancelled by request")

    async def adopt_orphans(self) -> None:
        """Claim pending or running runs whose worker is gone, and continue them here."""
        if self._draining:
            return
        for run_id in await self.store.active_run_ids():
            if run_id in self._tasks or not await self.store.claim_run(run_id, self.worker_id):
                continue
            run = await self.store.find_run(run_id)
            if run is not None:
                logger.warning(
                    "taking over an unfinished run",
                    extra={"run_id": run_id, "attempt": run.attempt, "thread_id": run.thread_id},
                )
                self._spawn(run, taken_over=True)

    async def shutdown(self, grace_s: float) -> None:
        """Refuse new runs, give running ones `grace_s`, hand the rest back, retire."""
        self._draining = True
        running = list(self._tasks.values())
        if running:
            logger.info("waiting for runs to finish", extra={"runs": len(running)})
            _, unfinished = await asyncio.wait(running, timeout=grace_s)
            self._shutting_down = True
            for task in unfinished:
                task.cancel("server shutting down")
            await asyncio.gather(*unfinished, return_exceptions=True)
        for loop in self._loops:
            loop.cancel()
        await asyncio.gather(*self._loops, return_exceptions=True)
        with contextlib.suppress(MedGraphError):
            await self.store.retire(self.worker_id)

    async def _every(self, period_s: float, action: Callable[[], Awaitable[None]]) -> None:
        while True:
            try:
                await action()
            except MedGraphError as exc:
                logger.error("background task failed", extra={"error": str(exc)})
            await asyncio.sleep(period_s)

    async def _heartbeat(self) -> None:
        await self.store.heartbeat(self.worker_id, self.limits.lease_s)

    async def _listen_for_cancels(self) -> None:
        while True:
            try:
                async with self.store.client.pubsub() as pubsub:
                    await pubsub.subscribe(self.store.cancel_channel)
                    async for message in pubsub.listen():
                        if message.get("type") == "message":
                            self._cancel_local(message["data"].decode())
            except RedisError as exc:
                logger.error("cancel listener lost Redis", extra={"error": str(exc)})
                await asyncio.sleep(1.0)

    async def _publish(self, run: RunRecord, event: str, data: Any) -> None:
        await self.store.publish(run.run_id, event, dumps(data))

    async def _execute(self, run: RunRecord, taken_over: bool) -> None:
        run_id_var.set(run.run_id)
        config = run_config(run)
        started = time.monotonic()
        error: BaseException | None = None
        status: RunStatus = "error"
        thread_status: ThreadStatus = "error"
        try:
            async with self._slots:
                current = await self.store.find_run(run.run_id)
                if current is None or current.cancel_requested:
                    raise asyncio.CancelledError("cancelled before it started")
                await self.store.set_running(run.run_id)
                await self._publish(run, "metadata", {"run_id": run.run_id, "attempt": run.attempt})
                interrupted = await self._stream(run, config, taken_over)
                breakpoints = run.kwargs.get("interrupt_before") or run.kwargs.get(
                    "interrupt_after"
                )
                if interrupted is None or breakpoints:
                    state = await self.graph.aget_state(config)
                    interrupted = bool(state.interrupts or state.next)
                status, thread_status = (
                    ("interrupted", "interrupted") if interrupted else ("success", "idle")
                )
        except asyncio.CancelledError:
            if self._shutting_down:
                await self._hand_back(run)
                raise
            status, thread_status = "interrupted", "idle"
        except Exception as exc:
            error = exc
        await self._finish(run, config, status, thread_status, error, time.monotonic() - started)

    async def _stream(
        self, run: RunRecord, config: RunnableConfig, taken_over: bool
    ) -> bool | None:
        """Run the graph, publishing events; whether it hit an interrupt (None: not run)."""
        graph_input = await self._input_for(run, config) if taken_over else graph_input_of(run)
        if graph_input is _ALREADY_DONE:
            return None
        translator = StreamTranslator(run.kwargs.get("stream_mode", ["values"]))
        async for mode, chunk in self.graph.astream(
            graph_input,
            config,
            stream_mode=translator.graph_modes,
            interrupt_before=run.kwargs.get("interrupt_before"),
            interrupt_after=run.kwargs.get("interrupt_after"),
        ):
            for event, data in translator.translate(mode, chunk):
                await self._publish(run, event, data)
            if mode == "updates":
                self.metrics.observe_update(chunk)
        return bool(translator.interrupts)

    async def _input_for(self, run: RunRecord, config: RunnableConfig) -> Any:
        """What a taken-over run continues with: its checkpoint, or its input if none was saved."""
        state = await self.graph.aget_state(config)
        if (state.metadata or {}).get("run_id") != run.run_id:
            return graph_input_of(run)
        if state.next and not state.interrupts:
            return None
        return _ALREADY_DONE

    async def _hand_back(self, run: RunRecord) -> None:
        with contextlib.suppress(MedGraphError):
            await self.store.release_run(run.run_id, self.worker_id)
        logger.warning("run handed back at shutdown", extra={"run_id": run.run_id})

    async def _finish(
        self,
        run: RunRecord,
        config: RunnableConfig,
        status: RunStatus,
        thread_status: ThreadStatus,
        error: BaseException | None,
        seconds: float,
    ) -> None:
        if error is not None:
            await asyncio.to_thread(self.auditor.turn_error, config, error)
        try:
            await asyncio.to_thread(self.auditor.end_turn)
        except MedGraphError as exc:
            error = exc
        details: dict[str, str] | None = None
        if error is not None:
            status, thread_status = "error", "error"
            details = error_details(error, run.run_id)
            if isinstance(error, MedGraphError):
                logger.warning("run failed", extra={"run_id": run.run_id, "error": details})
            else:
                logger.error("run crashed", exc_info=error, extra={"run_id": run.run_id})
            with contextlib.suppress(MedGraphError):
                await self._publish(run, "error", details)
        finished = await self.store.finish_run(
            run,
            status,
            thread_status,
            worker=self.worker_id,
            events_ttl_s=self.limits.events_ttl_s,
            error=details,
        )
        self.metrics.run_finished(status, seconds)
        logger.info(
            "run finished",
            extra={"run_id": run.run_id, "status": status, "seconds": round(seconds, 3)},
        )
        if not finished:
            logger.warning("run was taken over by another worker", extra={"run_id": run.run_id})


def error_details(error: BaseException, run_id: str) -> dict[str, str]:
    """The error a client sees: MedGraph errors say what went wrong; others only that it did."""
    if isinstance(error, MedGraphError):
        return {"error": type(error).__name__, "message": str(error)}
    return {
        "error": "InternalError",
        "message": f"the run failed unexpectedly; the server log has details (run {run_id})",
    }
