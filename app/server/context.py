"""What every route needs, held by the app: the graph, the store, the run manager, the key ring.

Routes get it, and the caller's principal, through the FastAPI dependencies defined here.
Requests authenticate with `x-api-key` (what `langgraph-sdk` sends) or `Authorization: Bearer`.
"""

from __future__ import annotations

import email.message
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from langgraph.graph.state import CompiledStateGraph
from starlette.exceptions import HTTPException

from app.runtime import Runtime
from app.server.inputs import InputLimits
from app.server.keys import KeyRing, Principal
from app.server.metrics import ServerMetrics
from app.server.runs import RunManager
from app.server.store import ServerStore
from app.settings import Settings


@dataclass
class ServerContext:
    """The live parts of one server process."""

    settings: Settings
    runtime: Runtime
    graph: CompiledStateGraph
    store: ServerStore
    runs: RunManager
    keys: KeyRing
    metrics: ServerMetrics
    limits: InputLimits
    started_at: str


def context(request: Request) -> ServerContext:
    """The server context of the app handling `request`."""
    return request.app.state.context


def principal(request: Request, ctx: Annotated[ServerContext, Depends(context)]) -> Principal:
    """The caller, from its API key; 401 when the key is missing or not valid."""
    raw = request.headers.get("x-api-key")
    if raw is None:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        raw = token if scheme.lower() == "bearer" and token else None
    if raw is None:
        raise HTTPException(
            401, "missing API key: send it in the x-api-key header", {"WWW-Authenticate": "Bearer"}
        )
    found = ctx.keys.authenticate(raw)
    if found is None:
        raise HTTPException(401, "invalid or revoked API key", {"WWW-Authenticate": "Bearer"})
    request.state.principal = found
    return found


Ctx = Annotated[ServerContext, Depends(context)]
Caller = Annotated[Principal, Depends(principal)]


def _media_type(request: Request) -> str | None:
    value = request.headers.get("content-type")
    if value is None:
        return None
    parsed = email.message.Message()
    parsed["content-type"] = value
    return parsed.get_content_type()


def _has_body(request: Request) -> bool:
    return request.headers.get("content-length", "0") != "0" or (
        "transfer-encoding" in request.headers
    )


def require_json(request: Request) -> None:
    """415 when a request with a body does not declare it as JSON."""
    if request.method in ("POST", "PUT", "PATCH") and _has_body(request):
        media = _media_type(request)
        if media is not None and media != "application/json" and not media.endswith("+json"):
            raise HTTPException(415, f"send JSON (Content-Type: application/json), not {media}")


def require_multipart(request: Request) -> None:
    """415 unless the request is a multipart/form-data upload."""
    if _media_type(request) != "multipart/form-data":
        raise HTTPException(415, "upload files as multipart/form-data")
