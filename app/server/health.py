"""Readiness checks: the server's Redis, the checkpointer, the audit store and the model endpoints.

Each check has a short timeout and reports `ok` plus a one-line detail (URLs without
passwords); a check that fails names what to fix.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any

import httpx

from app.settings import MODEL_ROLES
from state.checkpointer import redact_url
from state.errors import MedGraphError

if TYPE_CHECKING:
    from app.server.context import ServerContext

TIMEOUT_S = 3.0


async def _check(probe: Awaitable[str]) -> dict[str, Any]:
    try:
        detail = await asyncio.wait_for(probe, TIMEOUT_S)
    except TimeoutError:
        return {"ok": False, "detail": f"no answer within {TIMEOUT_S:.0f} s"}
    except (MedGraphError, httpx.HTTPError, OSError) as exc:
        return {"ok": False, "detail": str(exc) or type(exc).__name__}
    return {"ok": True, "detail": detail}


async def _redis(ctx: ServerContext) -> str:
    await ctx.store.ping()
    return ctx.store.safe_url


async def _checkpointer(ctx: ServerContext) -> str:
    saver = ctx.graph.checkpointer
    if saver is None or isinstance(saver, bool):
        raise MedGraphError("the graph has no checkpointer")
    await saver.aget_tuple({"configurable": {"thread_id": "__ready__", "checkpoint_ns": ""}})
    return redact_url(ctx.settings.resolved_checkpoint_url)


async def _audit(ctx: ServerContext) -> str:
    await asyncio.to_thread(ctx.runtime.auditor.trail.tail, 1)
    return redact_url(ctx.settings.resolved_audit_url)


async def _model(base_url: str) -> str:
    async with httpx.AsyncClient(timeout=TIMEOUT_S) as client:
        reply = await client.get(f"{base_url.rstrip('/')}/models")
    if reply.status_code >= 500 or reply.status_code == 404:
        raise MedGraphError(f"{base_url}/models answered {reply.status_code}")
    return base_url


def model_urls(ctx: ServerContext) -> list[str]:
    """The distinct chat-model endpoints the roles use (the embedded one when no URL is set)."""
    urls = [
        ctx.settings.model_role(role).base_url or ctx.runtime.embedded_url for role in MODEL_ROLES
    ]
    return sorted({u for u in urls if u})


async def readiness(ctx: ServerContext) -> dict[str, dict[str, Any]]:
    """Every check by name, run concurrently."""
    probes: dict[str, Awaitable[str]] = {
        "redis": _redis(ctx),
        "checkpointer": _checkpointer(ctx),
        "audit": _audit(ctx),
    }
    for url in model_urls(ctx):
        probes[f"model {url}"] = _model(url)
    results = await asyncio.gather(*(_check(p) for p in probes.values()))
    return dict(zip(probes, results, strict=True))
