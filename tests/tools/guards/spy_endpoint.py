"""A spy OpenAI-compatible endpoint on loopback: records each request body, replies as scripted."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class SpyEndpoint:
    """Chat completions (streaming SSE or plain JSON) with scripted reply texts."""

    def __init__(self, replies: list[str]) -> None:
        self.replies = list(replies)
        self.requests: list[str] = []

    def handler(self) -> type[BaseHTTPRequestHandler]:
        spy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                return None

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"])).decode()
                spy.requests.append(body)
                request = json.loads(body)
                reply = spy.replies.pop(0) if spy.replies else "ok"
                if request.get("stream"):
                    self.send_response(200)
                    self.send_header("Content-Type", "text/event-stream")
                    self.end_headers()
                    for piece in (reply[: len(reply) // 2], reply[len(reply) // 2 :]):
                        chunk = {
                            "id": "c1",
                            "object": "chat.completion.chunk",
                            "created": 0,
                            "model": "spy",
                            "choices": [{"index": 0, "delta": {"content": piece}}],
                        }
                        self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                    self.wfile.write(b"data: [DONE]\n\n")
                    return
                payload = {
                    "id": "c1",
                    "object": "chat.completion",
                    "created": 0,
                    "model": "spy",
                    "choices": [
                        {
                            "index": 0,
                            "finish_reason": "stop",
                            "message": {"role": "assistant", "content": reply},
                        }
                    ],
                    "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
                }
                data = json.dumps(payload).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler


@contextmanager
def spy_endpoint(replies: list[str]) -> Iterator[tuple[SpyEndpoint, str]]:
    """Serve a spy on 127.0.0.1; yields it and its /v1 base URL."""
    spy = SpyEndpoint(replies)
    server = ThreadingHTTPServer(("127.0.0.1", 0), spy.handler())
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield spy, f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()
