"""The server's outer ASGI layer: request ids, the body size limit, access logs and HTTP metrics.

Every response carries `x-request-id` (the client's, when it sent a sane one). A body larger
than the limit is refused with 413 before it is read, from its Content-Length, or while it is
read, for chunked uploads.
"""

from __future__ import annotations

import logging
import re
import time
import uuid

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.server.logs import request_id_var
from app.server.metrics import ServerMetrics
from app.server.views import dumps

logger = logging.getLogger("medgraph.server.http")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class BodyTooLarge(HTTPException):
    """The request body is over the server's limit."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is over the {limit:,}-byte limit")


class RequestContext:
    """Wraps the app: ids, size limit, one access-log line and metrics per request."""

    def __init__(self, app: ASGIApp, *, metrics: ServerMetrics, max_body_bytes: int) -> None:
        self.app = app
        self.metrics = metrics
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one ASGI call."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        offered = headers.get("x-request-id", "")
        request_id = offered if _REQUEST_ID.match(offered) else uuid.uuid4().hex
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        status = 500
        response_started = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                status = message["status"]
                response_started = True
                message["headers"] = [
                    *message.get("headers", []),
                    (b"x-request-id", request_id.encode()),
                ]
                route = scope.get("route")
                self.metrics.request(
                    scope["method"],
                    getattr(route, "path", "unmatched"),
                    status,
                    time.perf_counter() - started,
                )
            await send(message)

        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    raise BodyTooLarge(self.max_body_bytes)
            return message

        try:
            declared = headers.get("content-length", "")
            if declared.isdigit() and int(declared) > self.max_body_bytes:
                await self._refuse(send_with_id, BodyTooLarge(self.max_body_bytes), request_id)
            else:
                await self.app(scope, limited_receive, send_with_id)
        except BodyTooLarge as exc:
            if response_started:
                raise
            await self._refuse(send_with_id, exc, request_id)
        finally:
            logger.info(
                "request",
                extra={
                    "method": scope["method"],
                    "path": scope["path"],
                    "status": status,
                    "ms": round((time.perf_counter() - started) * 1000, 2),
                },
            )
            request_id_var.reset(token)

    @staticmethod
    async def _refuse(send: Send, exc: HTTPException, request_id: str) -> None:
        body = dumps({"detail": exc.detail, "error": "BodyTooLarge", "request_id": request_id})
        await send(
            {
                "type": "http.response.start",
                "status": exc.status_code,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
