"""Serve a run's stored events: as Server-Sent Events, or as one JSON result when the run ends.

Both read the run's Redis stream, so they work from any worker, after a reconnect
(`Last-Event-ID`) and after the worker that ran the run died. Every SSE event carries its
stream id; idle streams get a comment heartbeat, waits get whitespace, every five seconds.

Usage:
    StreamingResponse(sse_body(store, run_id, after="0"), media_type="text/event-stream")
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from app.server.records import TERMINAL, StreamEvent
from app.server.store import ServerStore
from app.server.store_scripts import END_EVENT

HEARTBEAT_S = 5.0


def sse_frame(event: StreamEvent) -> bytes:
    """One event in SSE wire format (its data is already JSON)."""
    return b"event: %s\r\ndata: %s\r\nid: %s\r\n\r\n" % (
        event.event.encode(),
        event.data,
        event.id.encode(),
    )


def _wanted(event: str, modes: set[str] | None) -> bool:
    if modes is None or event in ("metadata", "error"):
        return True
    base = event.split("/", 1)[0]
    return base in modes or (base == "messages" and "messages-tuple" in modes)


async def _ended(store: ServerStore, run_id: str) -> bool:
    run = await store.find_run(run_id)
    return run is None or run.status in TERMINAL


async def sse_body(
    store: ServerStore,
    run_id: str,
    *,
    after: str,
    modes: set[str] | None = None,
    on_disconnect: Callable[[], None] | None = None,
) -> AsyncIterator[bytes]:
    """Events of a run after id `after` until its end; `on_disconnect` runs if the client leaves."""
    finished = False
    try:
        while True:
            events = await store.read_events(run_id, after, block_ms=int(HEARTBEAT_S * 1000))
            if not events:
                if await _ended(store, run_id) and not await store.read_events(run_id, after, 0):
                    finished = True
                    return
                yield b": heartbeat\r\n\r\n"
                continue
            for event in events:
                after = event.id
                if event.event == END_EVENT:
                    finished = True
                    return
                if _wanted(event.event, modes):
                    yield sse_frame(event)
    finally:
        if not finished and on_disconnect is not None:
            on_disconnect()


async def wait_for_end(
    store: ServerStore, run_id: str, local: Callable[[str], Awaitable[bool]] | None = None
) -> None:
    """Return when the run has ended (`local` waits for a run of this worker without Redis)."""
    if local is not None and await local(run_id):
        return
    after = await store.last_event_id(run_id)
    while not await _ended(store, run_id):
        events = await store.read_events(run_id, after, block_ms=int(HEARTBEAT_S * 1000))
        if any(e.event == END_EVENT for e in events):
            return
        if events:
            after = events[-1].id


async def wait_body(
    store: ServerStore,
    run_id: str,
    result: Callable[[], Awaitable[bytes]],
    local: Callable[[str], Awaitable[bool]] | None = None,
) -> AsyncIterator[bytes]:
    """Whitespace every few seconds while the run goes on, then its JSON result."""
    waiting: asyncio.Task[Any] = asyncio.create_task(wait_for_end(store, run_id, local))
    try:
        while True:
            done, _ = await asyncio.wait({waiting}, timeout=HEARTBEAT_S)
            if done:
                waiting.result()
                break
            yield b"\n"
        yield await result()
    finally:
        waiting.cancel()
