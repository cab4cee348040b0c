"""`medgraph serve-model`: the embedded model's OpenAI-compatible chat-completions endpoint.

Usage:
    with EmbeddedModelServer(llm) as server:          # background thread, free loopback port
        client = OpenAI(base_url=server.base_url, api_key="not-needed")
    run_server(get_settings())                         # foreground, for the CLI
"""

from __future__ import annotations

import json
import socket
import threading
import time
import uuid
from collections.abc import AsyncIterator
from types import TracebackType
from typing import Any, Literal

import uvicorn
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from rich.console import Console
from sse_starlette.sse import EventSourceResponse
from starlette.concurrency import run_in_threadpool

from app.settings import Settings
from state.errors import InputError, MedGraphError, ModelEndpointError
from tools.llm.engine import (
    MAX_CONTEXT,
    ChatMessage,
    DecodeOptions,
    GenerationStream,
    LocalLLM,
    Role,
    load_local_llm,
)
from tools.models.registry import ModelRegistry

DEFAULT_MAX_TOKENS = 512
_ROLES: dict[str, Role] = {
    "system": "system",
    "developer": "system",
    "user": "user",
    "assistant": "assistant",
}


class ContentPart(BaseModel):
    """One part of a multi-part message; only text parts are supported."""

    model_config = ConfigDict(extra="allow")
    type: str
    text: str | None = None


class MessageIn(BaseModel):
    """A chat message as OpenAI clients send it."""

    model_config = ConfigDict(extra="allow")
    role: str
    content: str | list[ContentPart] | None = None


class JsonSchemaSpec(BaseModel):
    """The `json_schema` member of `response_format`."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)
    name: str = "response"
    schema_: dict[str, Any] = Field(default_factory=dict, alias="schema")
    strict: bool | None = None


class ResponseFormat(BaseModel):
    """`response_format`: text, any JSON object, or JSON valid for a schema."""

    type: Literal["text", "json_object", "json_schema"]
    json_schema: JsonSchemaSpec | None = None


class StreamOptions(BaseModel):
    """`stream_options`: whether the last streamed chunk carries token usage."""

    include_usage: bool = False


class ChatCompletionRequest(BaseModel):
    """The supported subset of an OpenAI chat-completions request."""

    model_config = ConfigDict(extra="allow")
    model: str | None = None
    messages: list[MessageIn]
    max_tokens: int | None = None
    max_completion_tokens: int | None = None
    temperature: float = Field(default=0.0, ge=0.0, le=2.0)
    stop: str | list[str] | None = None
    stream: bool = False
    stream_options: StreamOptions | None = None
    response_format: ResponseFormat | None = None
    seed: int | None = None
    n: int = 1
    tools: list[dict[str, Any]] | None = None


class _BadRequest(InputError):
    """An invalid request parameter, with the parameter's name for the error body."""

    def __init__(self, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.param = param


def _error_body(message: str, kind: str, param: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": param, "code": None}}


def _messages(request: ChatCompletionRequest) -> list[ChatMessage]:
    if not request.messages:
        raise _BadRequest("messages must contain at least one message", "messages")
    converted = []
    for index, message in enumerate(request.messages):
        role = _ROLES.get(message.role)
        if role is None:
            raise _BadRequest(
                f"messages[{index}].role {message.role!r} is not supported; "
                f"use one of {', '.join(sorted(_ROLES))}",
                f"messages[{index}].role",
            )
        content = message.content
        if isinstance(content, list):
            if any(part.type != "text" for part in content):
                raise _BadRequest(
                    f"messages[{index}] has a non-text part; this model reads text only",
                    f"messages[{index}].content",
                )
            content = "".join(part.text or "" for part in content)
        converted.append(ChatMessage(role, content or ""))
    return converted


def _options(request: ChatCompletionRequest) -> DecodeOptions:
    if request.n != 1:
        raise _BadRequest("only n=1 is supported", "n")
    if request.tools:
        raise _BadRequest("tool calling is not supported by the embedded model", "tools")
    param = "max_completion_tokens" if request.max_completion_tokens is not None else "max_tokens"
    requested = getattr(request, param)
    max_tokens = DEFAULT_MAX_TOKENS if requested is None else requested
    if not 1 <= max_tokens <= MAX_CONTEXT:
        raise _BadRequest(f"{param} must be between 1 and {MAX_CONTEXT}, got {max_tokens}", param)
    stops = [request.stop] if isinstance(request.stop, str) else list(request.stop or [])
    if len(stops) > 4:
        raise _BadRequest("at most 4 stop sequences are supported", "stop")
    schema = None
    json_object = False
    response_format = request.response_format
    if response_format is not None and response_format.type == "json_schema":
        if response_format.json_schema is None or not response_format.json_schema.schema_:
            raise _BadRequest(
                "response_format.json_schema.schema is required for type json_schema",
                "response_format",
            )
        schema = response_format.json_schema.schema_
    elif response_format is not None and response_format.type == "json_object":
        json_object = True
    return DecodeOptions(
        max_tokens=max_tokens,
        temperature=request.temperature,
        stop=tuple(stops),
        json_schema=schema,
        json_object=json_object,
        seed=request.seed,
    )


def create_app(engine: LocalLLM, model_name: str | None = None) -> FastAPI:
    """The FastAPI app serving `engine` under `/v1/chat/completions` and `/v1/models`."""
    served = model_name or engine.model_name
    app = FastAPI(title="MedGraph embedded model", docs_url=None, redoc_url=None)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'] if p != 'body')}: {err['msg']}"
            for err in exc.errors()
        )
        return JSONResponse(_error_body(problems, "invalid_request_error"), status_code=400)

    @app.exception_handler(MedGraphError)
    async def _medgraph(_: Request, exc: MedGraphError) -> JSONResponse:
        kind = "invalid_request_error" if exc.http_status < 500 else "server_error"
        param = exc.param if isinstance(exc, _BadRequest) else None
        return JSONResponse(_error_body(str(exc), kind, param), status_code=exc.http_status)

    @app.get("/v1/models")
    async def models() -> dict[str, Any]:
        return {
            "object": "list",
            "data": [{"id": served, "object": "model", "created": 0, "owned_by": "medgraph"}],
        }

    @app.post("/v1/chat/completions", response_model=None)
    async def chat_completions(request: ChatCompletionRequest) -> Any:
        messages = _messages(request)
        options = _options(request)
        completion_id = f"chatcmpl-{uuid.uuid4().hex}"
        created = int(time.time())
        if request.stream:
            stream = await run_in_threadpool(engine.stream, messages, options)
            include_usage = bool(request.stream_options and request.stream_options.include_usage)
            return EventSourceResponse(
                _sse_chunks(stream, completion_id, created, served, include_usage),
                sep="\n",
            )
        result = await run_in_threadpool(engine.generate, messages, options)
        return {
            "id": completion_id,
            "object": "chat.completion",
            "created": created,
            "model": served,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": result.text},
                    "finish_reason": result.finish_reason,
                    "logprobs": None,
                }
            ],
            "usage": {
                "prompt_tokens": result.prompt_tokens,
                "completion_tokens": result.completion_tokens,
                "total_tokens": result.prompt_tokens + result.completion_tokens,
            },
        }

    return app


_END = object()


async def _sse_chunks(
    stream: GenerationStream, completion_id: str, created: int, model: str, include_usage: bool
) -> AsyncIterator[str]:
    """OpenAI `chat.completion.chunk` events, then `[DONE]`; stops the engine on disconnect."""

    def chunk(delta: dict[str, Any], finish: str | None) -> str:
        choice = {"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}
        return json.dumps(
            {
                "id": completion_id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "choices": [choice],
            }
        )

    try:
        yield chunk({"role": "assistant", "content": ""}, None)
        while True:
            delta = await run_in_threadpool(next, stream, _END)
            if delta is _END:
                break
            yield chunk({"content": delta}, None)
        result = stream.result
        if result is None:
            raise ModelEndpointError("generation ended without a result")
        yield chunk({}, result.finish_reason)
        if include_usage:
            usage = {
                "prompt_tokens": result.prompt_tokens,
                "completion_tokens": result.completion_tokens,
                "total_tokens": result.prompt_tokens + result.completion_tokens,
            }
            yield json.dumps(
                {
                    "id": completion_id,
                    "object": "chat.completion.chunk",
                    "created": created,
                    "model": model,
                    "choices": [],
                    "usage": usage,
                }
            )
        yield "[DONE]"
    finally:
        stream.close()


class EmbeddedModelServer:
    """Serve a LocalLLM on a loopback port from a background thread, as a context manager."""

    def __init__(
        self,
        engine: LocalLLM,
        host: str = "127.0.0.1",
        port: int = 0,
        model_name: str | None = None,
        start_timeout_s: float = 30.0,
    ) -> None:
        self.host = host
        self.port = port
        self._app = create_app(engine, model_name)
        self._timeout = start_timeout_s
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        """The OpenAI base URL, ending in `/v1`."""
        return f"http://{self.host}:{self.port}/v1"

    def start(self) -> None:
        """Bind the port, start serving in a daemon thread and wait until it accepts requests."""
        sock = _bind(self.host, self.port)
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(self._app, log_level="warning", lifespan="off", access_log=False)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run,
            kwargs={"sockets": [sock]},
            name="medgraph-model-server",
            daemon=True,
        )
        self._thread.start()
        deadline = time.monotonic() + self._timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise ModelEndpointError(f"the embedded model server did not start on {sock}")
            time.sleep(0.02)

    def stop(self) -> None:
        """Ask uvicorn to exit and wait for the thread."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=self._timeout)
        self._server = None
        self._thread = None

    def __enter__(self) -> EmbeddedModelServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _bind(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ModelEndpointError(f"cannot listen on {host}:{port}: {exc}") from exc
    sock.listen(128)
    return sock


def run_server(settings: Settings) -> None:
    """Load the model and serve it in the foreground until interrupted (`medgraph serve-model`)."""
    console = Console(stderr=True)
    registry = ModelRegistry(settings.local_device)
    engine = load_local_llm(
        registry,
        settings.cache_dir,
        settings.local_llm_quantize,
        settings.local_llm_threads,
        console,
    )
    report = registry.reports()[engine.model_name]
    sock = _bind(settings.serve_model_host, settings.serve_model_port)
    host, port = sock.getsockname()[:2]
    console.print(
        f"[green]Serving {settings.model_name} on {report.device} "
        f"(loaded in {report.load_seconds:.1f} s) at http://{host}:{port}/v1"
    )
    config = uvicorn.Config(
        create_app(engine, settings.model_name), log_level="info", lifespan="off"
    )
    uvicorn.Server(config).run(sockets=[sock])
