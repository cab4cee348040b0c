"""Operations and discovery routes: liveness, readiness, metrics, info, assistants, uploads."""

from __future__ import annotations

import asyncio
import secrets
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, UploadFile
from fastapi.responses import Response
from starlette.exceptions import HTTPException

from app.attachments import store_attachment_bytes
from app.server.context import Caller, Ctx, ServerContext, require_json, require_multipart
from app.server.health import readiness
from app.server.metrics import CONTENT_TYPE
from app.server.views import ASSISTANT_ID, GRAPH_ID, JSONBytes, assistant_json
from app.server.wire import AssistantSearch, UploadReply
from state.errors import InputError, NotFound

ops = APIRouter(tags=["operations"])
assistants = APIRouter(tags=["assistants"], dependencies=[Depends(require_json)])
uploads = APIRouter(tags=["attachments"])
UPLOAD_TTL_S = 24 * 3600


@ops.get("/ok", summary="Liveness")
async def ok() -> dict[str, bool]:
    """The process is up and serving."""
    return {"ok": True}


@ops.get("/ready", summary="Readiness")
async def ready(ctx: Ctx) -> JSONBytes:
    """Redis, the checkpointer, the audit store and the model endpoints answer (else 503)."""
    checks = await readiness(ctx)
    healthy = all(c["ok"] for c in checks.values()) and ctx.runs.accepting
    return JSONBytes(
        {"status": "ready" if healthy else "unavailable", "checks": checks},
        status_code=200 if healthy else 503,
    )


@ops.get("/metrics", summary="Prometheus metrics")
async def metrics(ctx: Ctx) -> Response:
    """Requests, latency, runs in flight and finished, routes and guard decisions."""
    return Response(ctx.metrics.render(), media_type=CONTENT_TYPE)


@ops.get("/info", summary="Server information")
async def info() -> dict[str, Any]:
    """What this server implements (read by LangGraph clients)."""
    return {
        "version": "medgraph",
        "flags": {"assistants": True, "crons": False, "langsmith": False, "store": False},
    }


def _assistant(assistant_id: str, ctx: ServerContext) -> dict[str, Any]:
    if assistant_id not in (ASSISTANT_ID, GRAPH_ID):
        raise NotFound(f"assistant {assistant_id} not found")
    return assistant_json(ctx.started_at)


@assistants.post("/assistants/search", summary="Search assistants")
async def search_assistants(
    body: AssistantSearch,
    ctx: Ctx,
    _: Caller,
) -> JSONBytes:
    """The MedGraph assistant, when it matches the filters."""
    found = assistant_json(ctx.started_at)
    matches = (
        (body.graph_id in (None, GRAPH_ID))
        and (body.name is None or body.name.lower() in found["name"])
        and all(found["metadata"].get(k) == v for k, v in body.metadata.items())
    )
    listed = [found] if matches else []
    return JSONBytes(listed[body.offset : body.offset + body.limit])


@assistants.get("/assistants/{assistant_id}", summary="Get an assistant")
async def get_assistant(assistant_id: str, ctx: Ctx, _: Caller) -> JSONBytes:
    """The assistant by id or graph name."""
    return JSONBytes(_assistant(assistant_id, ctx))


@assistants.get("/assistants/{assistant_id}/graph", summary="Get the assistant's graph")
async def get_graph(assistant_id: str, ctx: Ctx, _: Caller) -> JSONBytes:
    """The graph's nodes and edges (for LangGraph Studio)."""
    _assistant(assistant_id, ctx)
    return JSONBytes(ctx.graph.get_graph().to_json())


@uploads.post(
    "/attachments",
    summary="Upload an attachment",
    response_model=UploadReply,
    dependencies=[Depends(require_multipart)],
)
async def upload_attachment(
    ctx: Ctx,
    who: Caller,
    file: Annotated[UploadFile, File(description="the image (PNG, JPEG, DICOM) or document")],
    kind: Annotated[str, Form(description="image or file")] = "image",
) -> UploadReply:
    """Check and store a file for a later run: put `{"upload_id": …}` in `input.attachments`."""
    if kind not in ("image", "file"):
        raise InputError("kind must be 'image' or 'file'")
    limit = ctx.settings.server_max_attachment_bytes
    data = await file.read(limit + 1)
    if len(data) > limit:
        raise HTTPException(413, f"{file.filename} is over the {limit:,}-byte attachment limit")
    attachment = await asyncio.to_thread(
        store_attachment_bytes,
        data,
        file.filename or "upload",
        kind,  # type: ignore[arg-type]
        ctx.settings.data_dir,
        limit,
    )
    upload_id = secrets.token_urlsafe(16)
    await ctx.store.save_upload(who.tenant, upload_id, attachment, UPLOAD_TTL_S)
    return UploadReply(upload_id=upload_id, **attachment.model_dump(exclude={"path"}))
