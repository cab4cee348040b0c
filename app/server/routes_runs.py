"""Run routes: create (background, stream, wait), list, get, join, join the stream, cancel.

A thread runs one run at a time: a second run posted while one is pending or running is
refused with 409 (multitask strategy `reject`). A resume (`command={"resume": …}`) is accepted
only when the thread waits on an interrupt.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Header, Query
from fastapi.responses import StreamingResponse
from starlette.exceptions import HTTPException

from app.server.context import Caller, Ctx, ServerContext, require_json
from app.server.inputs import build_graph_input
from app.server.keys import Principal
from app.server.records import RunRecord, now
from app.server.resume import resume_value
from app.server.routes_threads import current_state, owned_thread
from app.server.runs import stored_input
from app.server.streams import sse_body, wait_body
from app.server.views import (
    ASSISTANT_ID,
    GRAPH_ID,
    JSONBytes,
    dumps,
    interrupt_json,
    public_values,
    run_json,
)
from app.server.wire import ID_PATTERN, STREAM_MODES, RunCreate
from state.errors import InputError, NotFound

router = APIRouter(tags=["runs"], dependencies=[Depends(require_json)])
_background: set[asyncio.Task[None]] = set()


def _check_nodes(ctx: ServerContext, nodes: str | list[str] | None, what: str) -> None:
    if nodes is None or nodes == "*":
        return
    unknown = sorted(set(nodes) - set(ctx.graph.nodes))
    if unknown:
        raise InputError(f"{what}: unknown node(s) {', '.join(unknown)}")


async def create_run(
    ctx: ServerContext,
    who: Principal,
    thread_id: str,
    body: RunCreate,
    *,
    new_thread: bool,
    waited: bool = False,
) -> RunRecord:
    """Check and store a run, take the thread's run slot, and start it on this worker.

    A `waited` run publishes only the stream modes its request named (none by default): its
    caller reads the result, not the events.
    """
    if not ctx.runs.accepting:
        raise HTTPException(503, "the server is shutting down; retry on another instance")
    if not ID_PATTERN.match(thread_id):
        raise NotFound(f"thread {thread_id} not found")
    if body.assistant_id not in (ASSISTANT_ID, GRAPH_ID):
        raise NotFound(f"assistant {body.assistant_id} not found")
    _check_nodes(ctx, body.interrupt_before, "interrupt_before")
    _check_nodes(ctx, body.interrupt_after, "interrupt_after")
    exists = await ctx.store.find_thread(who.tenant, thread_id) is not None
    if not exists and not (new_thread or body.if_not_exists == "create"):
        raise NotFound(f"thread {thread_id} not found")
    kwargs: dict[str, object] = {
        "stream_mode": [] if waited and "stream_mode" not in body.model_fields_set else body.modes,
        "interrupt_before": body.interrupt_before,
        "interrupt_after": body.interrupt_after,
        "input": None,
        "command": None,
    }
    if body.command is not None:
        if not exists:
            raise NotFound(f"thread {thread_id} not found")
        state = await current_state(ctx, who, thread_id)
        kwargs["command"] = {"resume": resume_value(thread_id, state, body.command.resume, who)}
    else:
        graph_input = await build_graph_input(
            body.input or {}, who, lambda upload: ctx.store.upload(who.tenant, upload), ctx.limits
        )
        graph_input["messages"][0].id = graph_input["messages"][0].id or str(uuid.uuid4())
        kwargs["input"] = stored_input(graph_input)
    iso, _ = now()
    run = RunRecord(
        run_id=str(uuid.uuid4()),
        thread_id=thread_id,
        tenant=who.tenant,
        user=who.user,
        role=who.role,
        assistant_id=ASSISTANT_ID,
        status="pending",
        created_at=iso,
        updated_at=iso,
        metadata=body.metadata,
        kwargs=kwargs,
        worker=ctx.runs.worker_id,
    )
    await ctx.store.create_run(run, create_thread=not exists)
    await ctx.store.update_metadata(
        who.tenant, thread_id, {"graph_id": GRAPH_ID, "assistant_id": ASSISTANT_ID}
    )
    await ctx.runs.submit(run)
    return run


def _headers(run: RunRecord, tail: str) -> dict[str, str]:
    base = f"/threads/{run.thread_id}/runs/{run.run_id}"
    return {"Location": f"{base}/{tail}", "Content-Location": base}


def _stream(
    ctx: ServerContext,
    run: RunRecord,
    after: str,
    modes: set[str] | None,
    cancel_on_disconnect: bool,
) -> StreamingResponse:
    def cancel() -> None:
        task = asyncio.get_running_loop().create_task(ctx.runs.cancel(run))
        _background.add(task)
        task.add_done_callback(_background.discard)

    body = sse_body(
        ctx.store,
        run.run_id,
        after=after,
        modes=modes,
        on_disconnect=cancel if cancel_on_disconnect else None,
    )
    return StreamingResponse(
        body,
        media_type="text/event-stream",
        headers={**_headers(run, "stream"), "Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


def _result(ctx: ServerContext, who: Principal, run: RunRecord) -> StreamingResponse:
    async def final() -> bytes:
        finished = await ctx.store.run(who.tenant, run.thread_id, run.run_id)
        if finished.status == "error":
            thread = await ctx.store.thread(who.tenant, run.thread_id)
            return dumps({"__error__": thread.error or {"error": "Error", "message": "run failed"}})
        state = await current_state(ctx, who, run.thread_id)
        values = public_values(state.values)
        if state.interrupts:
            values = {**values, "__interrupt__": [interrupt_json(i) for i in state.interrupts]}
        return dumps(values)

    return StreamingResponse(
        wait_body(ctx.store, run.run_id, final, ctx.runs.wait_local),
        media_type="application/json",
        headers=_headers(run, "join"),
    )


@router.post("/threads/{thread_id}/runs", summary="Create a background run")
async def create_background_run(
    thread_id: str,
    body: RunCreate,
    ctx: Ctx,
    who: Caller,
) -> JSONBytes:
    """Start a run and return it at once; join it, stream it or poll it later."""
    run = await create_run(ctx, who, thread_id, body, new_thread=False)
    return JSONBytes(
        run_json(run), headers={"Content-Location": _headers(run, "")["Content-Location"]}
    )


@router.post("/threads/{thread_id}/runs/stream", summary="Create a run and stream it")
async def stream_run(
    thread_id: str,
    body: RunCreate,
    ctx: Ctx,
    who: Caller,
) -> StreamingResponse:
    """Start a run and stream its events (SSE); a disconnect leaves it running by default."""
    run = await create_run(ctx, who, thread_id, body, new_thread=False)
    return _stream(ctx, run, "0", None, body.on_disconnect == "cancel")


@router.post("/threads/{thread_id}/runs/wait", summary="Create a run and wait for it")
async def wait_run(
    thread_id: str,
    body: RunCreate,
    ctx: Ctx,
    who: Caller,
) -> StreamingResponse:
    """Start a run and return the thread's values when it ends (or its interrupt or error)."""
    run = await create_run(ctx, who, thread_id, body, new_thread=False, waited=True)
    return _result(ctx, who, run)


@router.post("/runs/stream", summary="Stream a run on a new thread")
async def stream_stateless(body: RunCreate, ctx: Ctx, who: Caller) -> StreamingResponse:
    """Like /threads/{id}/runs/stream, on a thread created for the run (and kept)."""
    run = await create_run(ctx, who, str(uuid.uuid4()), body, new_thread=True)
    return _stream(ctx, run, "0", None, body.on_disconnect == "cancel")


@router.post("/runs/wait", summary="Wait for a run on a new thread")
async def wait_stateless(body: RunCreate, ctx: Ctx, who: Caller) -> StreamingResponse:
    """Like /threads/{id}/runs/wait, on a thread created for the run (and kept)."""
    run = await create_run(ctx, who, str(uuid.uuid4()), body, new_thread=True, waited=True)
    return _result(ctx, who, run)


@router.get("/threads/{thread_id}/runs", summary="List a thread's runs")
async def list_runs(
    thread_id: str,
    ctx: Ctx,
    who: Caller,
    limit: Annotated[int, Query(ge=1, le=1000)] = 10,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> JSONBytes:
    """The thread's runs, newest first."""
    await owned_thread(thread_id, ctx, who)
    return JSONBytes(
        [run_json(r) for r in await ctx.store.runs_of(who.tenant, thread_id, limit, offset)]
    )


@router.get("/threads/{thread_id}/runs/{run_id}", summary="Get a run")
async def get_run(
    thread_id: str,
    run_id: str,
    ctx: Ctx,
    who: Caller,
) -> JSONBytes:
    """One run and its status."""
    await owned_thread(thread_id, ctx, who)
    return JSONBytes(run_json(await ctx.store.run(who.tenant, thread_id, run_id)))


@router.get("/threads/{thread_id}/runs/{run_id}/join", summary="Wait for a run")
async def join_run(
    thread_id: str,
    run_id: str,
    ctx: Ctx,
    who: Caller,
) -> StreamingResponse:
    """Wait until the run ends; return the thread's values (or its interrupt or error)."""
    await owned_thread(thread_id, ctx, who)
    return _result(ctx, who, await ctx.store.run(who.tenant, thread_id, run_id))


@router.get("/threads/{thread_id}/runs/{run_id}/stream", summary="Join a run's stream")
async def join_stream(
    thread_id: str,
    run_id: str,
    ctx: Ctx,
    who: Caller,
    stream_mode: Annotated[list[str] | None, Query()] = None,
    cancel_on_disconnect: bool = False,
    last_event_id: Annotated[str | None, Header()] = None,
) -> StreamingResponse:
    """The run's events from the start, or after `Last-Event-ID`, until it ends."""
    await owned_thread(thread_id, ctx, who)
    run = await ctx.store.run(who.tenant, thread_id, run_id)
    modes = {m for m in stream_mode or [] if m} or None
    if modes is not None and not modes <= set(STREAM_MODES):
        raise InputError(f"stream_mode must be among {', '.join(STREAM_MODES)}")
    return _stream(ctx, run, last_event_id or "0", modes, cancel_on_disconnect)


@router.post(
    "/threads/{thread_id}/runs/{run_id}/cancel", summary="Cancel a run", response_model=None
)
async def cancel_run(
    thread_id: str,
    run_id: str,
    ctx: Ctx,
    who: Caller,
    wait: bool = False,
    action: Literal["interrupt", "rollback"] = "interrupt",
) -> StreamingResponse | JSONBytes:
    """Stop a run after its current step (checkpoints so far are kept); 202, or wait for it."""
    await owned_thread(thread_id, ctx, who)
    run = await ctx.store.run(who.tenant, thread_id, run_id)
    if action == "rollback":
        raise InputError("action 'rollback' is not supported; use 'interrupt'")
    await ctx.runs.cancel(run)
    if wait:
        return _result(ctx, who, run)
    return JSONBytes(None, status_code=202)
