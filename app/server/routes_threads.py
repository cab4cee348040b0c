"""Thread routes: create, get, search, delete, state (current, at a checkpoint) and history.

Every lookup is made with the caller's tenant, so another tenant's thread answers 404 exactly
like a thread that does not exist.
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Depends, Response
from langchain_core.runnables import RunnableConfig
from langgraph.types import StateSnapshot

from app.server.context import Caller, Ctx, ServerContext, require_json
from app.server.keys import Principal
from app.server.records import ThreadRecord
from app.server.runs import checkpoint_thread_id
from app.server.views import JSONBytes, state_json, thread_json
from app.server.wire import (
    ID_PATTERN,
    CheckpointRequest,
    HistoryRequest,
    ThreadCreate,
    ThreadSearch,
)
from state.errors import NotFound

router = APIRouter(tags=["threads"], dependencies=[Depends(require_json)])


def state_config(
    who: Principal, thread_id: str, checkpoint_id: str | None = None
) -> RunnableConfig:
    """The checkpointer config of the caller's thread (at a checkpoint, when given)."""
    configurable: dict[str, Any] = {"thread_id": checkpoint_thread_id(who.tenant, thread_id)}
    if checkpoint_id is not None:
        configurable["checkpoint_id"] = checkpoint_id
    return {"configurable": configurable}


async def owned_thread(thread_id: str, ctx: ServerContext, who: Principal) -> ThreadRecord:
    """The caller's thread, or 404 (also for malformed ids and other tenants' threads)."""
    if not ID_PATTERN.match(thread_id):
        raise NotFound(f"thread {thread_id} not found")
    return await ctx.store.thread(who.tenant, thread_id)


async def current_state(ctx: ServerContext, who: Principal, thread_id: str) -> StateSnapshot:
    """The thread's latest checkpointed state."""
    return await ctx.graph.aget_state(state_config(who, thread_id))


@router.post("/threads", summary="Create a thread")
async def create_thread(
    body: ThreadCreate,
    ctx: Ctx,
    who: Caller,
) -> JSONBytes:
    """Create a thread of the caller's tenant (`if_exists`: raise → 409, or do_nothing)."""
    thread_id = body.thread_id or str(uuid.uuid4())
    record = await ctx.store.create_thread(
        who.tenant, thread_id, body.metadata, if_exists=body.if_exists
    )
    return JSONBytes(thread_json(record, await current_state(ctx, who, thread_id)))


@router.post("/threads/search", summary="Search threads")
async def search_threads(
    body: ThreadSearch,
    ctx: Ctx,
    who: Caller,
) -> JSONBytes:
    """The caller's threads matching ids, metadata (exact values) and status."""
    ids = await ctx.store.thread_ids(who.tenant)
    if body.ids is not None:
        ids = [i for i in ids if i in set(body.ids)]
    records = [r for r in [await ctx.store.find_thread(who.tenant, i) for i in ids] if r]
    matches = [
        r
        for r in records
        if all(r.metadata.get(k) == v for k, v in body.metadata.items())
        and (body.status is None or r.status == body.status)
    ]
    matches.sort(key=lambda r: getattr(r, body.sort_by), reverse=body.sort_order == "desc")
    page = matches[body.offset : body.offset + body.limit]
    return JSONBytes([thread_json(r, await current_state(ctx, who, r.thread_id)) for r in page])


@router.get("/threads/{thread_id}", summary="Get a thread")
async def get_thread(thread_id: str, ctx: Ctx, who: Caller) -> JSONBytes:
    """The thread with its status, current values and pending interrupts."""
    record = await owned_thread(thread_id, ctx, who)
    return JSONBytes(thread_json(record, await current_state(ctx, who, thread_id)))


@router.delete("/threads/{thread_id}", status_code=204, summary="Delete a thread")
async def delete_thread(thread_id: str, ctx: Ctx, who: Caller) -> Response:
    """Delete the thread, its runs and its checkpoints (409 while a run is in progress)."""
    await owned_thread(thread_id, ctx, who)
    await ctx.store.delete_thread(who.tenant, thread_id)
    checkpointer = ctx.graph.checkpointer
    if checkpointer is not None and not isinstance(checkpointer, bool):
        await checkpointer.adelete_thread(checkpoint_thread_id(who.tenant, thread_id))
    return Response(status_code=204)


@router.get("/threads/{thread_id}/state", summary="Get the thread's state")
async def get_state(thread_id: str, ctx: Ctx, who: Caller) -> JSONBytes:
    """The latest checkpointed state: values, next nodes, tasks and interrupts."""
    await owned_thread(thread_id, ctx, who)
    return JSONBytes(state_json(await current_state(ctx, who, thread_id), thread_id))


async def _state_at(ctx: ServerContext, who: Principal, thread_id: str, checkpoint_id: str) -> Any:
    await owned_thread(thread_id, ctx, who)
    state = await ctx.graph.aget_state(state_config(who, thread_id, checkpoint_id))
    if state.created_at is None:
        raise NotFound(f"checkpoint {checkpoint_id} not found in thread {thread_id}")
    return state_json(state, thread_id)


@router.get("/threads/{thread_id}/state/{checkpoint_id}", summary="Get a past state")
async def get_state_at(
    thread_id: str,
    checkpoint_id: str,
    ctx: Ctx,
    who: Caller,
) -> JSONBytes:
    """The state at one checkpoint of the thread."""
    return JSONBytes(await _state_at(ctx, who, thread_id, checkpoint_id))


@router.post("/threads/{thread_id}/state/checkpoint", summary="Get a past state")
async def post_state_at(
    thread_id: str,
    body: CheckpointRequest,
    ctx: Ctx,
    who: Caller,
) -> JSONBytes:
    """The state at the checkpoint named in the body."""
    checkpoint_id = body.checkpoint.get("checkpoint_id")
    if not isinstance(checkpoint_id, str):
        raise NotFound("give checkpoint.checkpoint_id")
    return JSONBytes(await _state_at(ctx, who, thread_id, checkpoint_id))


@router.post("/threads/{thread_id}/history", summary="Get the thread's history")
async def get_history(
    thread_id: str,
    body: HistoryRequest,
    ctx: Ctx,
    who: Caller,
) -> JSONBytes:
    """Past states, newest first (`before` a checkpoint, filtered by metadata)."""
    await owned_thread(thread_id, ctx, who)
    before_id = body.before.get("checkpoint_id") if isinstance(body.before, dict) else body.before
    before = state_config(who, thread_id, before_id) if before_id else None
    states = [
        state_json(state, thread_id)
        async for state in ctx.graph.aget_state_history(
            state_config(who, thread_id), filter=body.metadata, before=before, limit=body.limit
        )
    ]
    return JSONBytes(states)
