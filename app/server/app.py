"""Build the FastAPI app: open the runtime and stores, mount the routes, map errors to statuses.

Errors leave as JSON `{"detail", "error", "request_id"}`: MedGraph errors with their own HTTP
status, malformed JSON as 400, schema violations as 422, unexpected failures as 500 (logged,
never shown). The lifespan takes over runs left by dead workers on start, and on shutdown lets
runs finish for `MEDGRAPH_SERVER_SHUTDOWN_GRACE_S` before handing the rest back.

Usage:
    app = create_app(get_settings())            # uvicorn app.server.app:app_from_settings --factory
    app = create_app(settings, runtime=opened)  # share an opened Runtime (tests, benchmarks)
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AsyncExitStack, asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException

from app.runtime import Runtime
from app.server.asgi import RequestContext
from app.server.context import ServerContext
from app.server.inputs import InputLimits
from app.server.keys import KeyRing
from app.server.logs import configure_json_logging, request_id_var
from app.server.metrics import ServerMetrics
from app.server.records import now
from app.server.routes_meta import assistants, ops, uploads
from app.server.routes_runs import router as runs_router
from app.server.routes_threads import router as threads_router
from app.server.runs import RunLimits, RunManager
from app.server.store import ServerStore
from app.server.views import JSONBytes
from app.settings import Settings, get_settings
from graphs.checkpoint_types import graph_record_types
from state.checkpointer import open_async_checkpointer
from state.errors import ConfigError, MedGraphError

logger = logging.getLogger("medgraph.server")
DESCRIPTION = (
    "The LangGraph Server API subset that `langgraph-sdk` uses (assistants, threads, runs with "
    "SSE streaming, state, history, interrupt resume), served by MedGraph with API keys, "
    "per-tenant isolation, Redis state and a Postgres audit trail."
)


def _error(status: int, detail: str, error: str) -> JSONBytes:
    return JSONBytes(
        {"detail": detail, "error": error, "request_id": request_id_var.get()}, status_code=status
    )


def _validation_message(exc: RequestValidationError) -> tuple[int, str]:
    problems = list(exc.errors())
    if any(p.get("type") == "json_invalid" for p in problems):
        return 400, "the request body is not valid JSON"
    parts = []
    for problem in problems[:5]:
        where = ".".join(str(x) for x in problem.get("loc", ()) if x != "body")
        parts.append(f"{where}: {problem.get('msg')}" if where else str(problem.get("msg")))
    return 422, "; ".join(parts)


def install_error_handlers(app: FastAPI) -> None:
    """Map every failure to a status and a JSON error body."""

    @app.exception_handler(MedGraphError)
    async def medgraph_error(request: Request, exc: MedGraphError) -> JSONBytes:
        if exc.http_status >= 500:
            logger.error("request failed", extra={"error": type(exc).__name__, "detail": str(exc)})
        return _error(exc.http_status, str(exc), type(exc).__name__)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONBytes:
        status, message = _validation_message(exc)
        return _error(status, message, "InvalidRequest" if status == 422 else "MalformedJSON")

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONBytes:
        response = _error(exc.status_code, str(exc.detail), f"HTTP{exc.status_code}")
        response.headers.update(exc.headers or {})
        return response

    @app.exception_handler(Exception)
    async def crashed(request: Request, exc: Exception) -> JSONBytes:
        logger.error("unhandled error", exc_info=exc)
        return _error(500, "internal error; the server log has details", "InternalError")


async def open_context(
    stack: AsyncExitStack, settings: Settings, runtime: Runtime | None, metrics: ServerMetrics
) -> ServerContext:
    """Open everything one server process needs, registering each close on `stack`."""
    redis_url = settings.resolved_server_redis_url
    if redis_url is None:
        raise ConfigError(
            "the server keeps threads and runs in Redis: set MEDGRAPH_CHECKPOINT_URL=redis://… "
            "or MEDGRAPH_SERVER_REDIS_URL"
        )
    if runtime is None:
        runtime = Runtime(settings)
        await asyncio.to_thread(runtime.__enter__)
        stack.push(runtime.__exit__)
    metrics.attach_guards(runtime.guards.metrics)
    saver = await stack.enter_async_context(
        open_async_checkpointer(settings.resolved_checkpoint_url, record_types=graph_record_types())
    )
    graph = runtime.graph.copy(update={"checkpointer": saver})
    store = await stack.enter_async_context(
        ServerStore.from_url(redis_url, prefix=settings.server_redis_prefix)
    )
    await store.ping()
    keys = KeyRing(settings.resolved_server_keys_file)
    if keys.size == 0:
        logger.warning(
            "no API keys: every request will be refused; create one with `medgraph keys add`",
            extra={"keys_file": str(settings.resolved_server_keys_file)},
        )
    runs = RunManager(
        graph,
        store,
        runtime.auditor,
        metrics,
        RunLimits(
            settings.server_max_concurrent_runs,
            settings.server_run_events_ttl_s,
            settings.server_worker_lease_s,
        ),
    )
    await runs.start()
    stack.push_async_callback(runs.shutdown, settings.server_shutdown_grace_s)
    return ServerContext(
        settings=settings,
        runtime=runtime,
        graph=graph,
        store=store,
        runs=runs,
        keys=keys,
        metrics=metrics,
        limits=InputLimits(
            settings.data_dir, settings.max_message_chars, settings.server_max_attachment_bytes
        ),
        started_at=now()[0],
    )


def create_app(settings: Settings, *, runtime: Runtime | None = None) -> FastAPI:
    """The app; it opens its own `Runtime` unless an opened one is given (and then not closed)."""
    metrics = ServerMetrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        workers = max(32, 2 * settings.server_max_concurrent_runs + 8)
        asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor(workers))
        async with AsyncExitStack() as stack:
            app.state.context = await open_context(stack, settings, runtime, metrics)
            logger.info("server ready", extra={"worker": app.state.context.runs.worker_id})
            yield
            logger.info("server stopping")

    app = FastAPI(
        title="MedGraph server",
        version="1",
        description=DESCRIPTION,
        lifespan=lifespan,
        default_response_class=JSONBytes,
    )
    install_error_handlers(app)
    for router in (ops, assistants, threads_router, runs_router, uploads):
        app.include_router(router)
    app.add_middleware(
        RequestContext, metrics=metrics, max_body_bytes=settings.server_max_body_bytes
    )
    return app


def app_from_settings() -> FastAPI:
    """The app for `uvicorn --factory` (one per worker process), configured from settings."""
    configure_json_logging()
    return create_app(get_settings())
