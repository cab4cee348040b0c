"""Run the MedGraph server for tests: in a thread (uvicorn, real sockets) or as a subprocess.

Usage:
    with ServerThread(create_app(settings, runtime=runtime)) as server:
        client = get_sync_client(url=server.url, api_key=key)
    proc = spawn_server(env, port); wait_until_ready(url, proc)
    wait_for_status(client, thread_id, run_id, "success")
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI

ROOT = Path(__file__).resolve().parents[3]


def free_port() -> int:
    """A TCP port free on loopback right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ServerThread:
    """Serve an app with uvicorn on a loopback port in a background thread."""

    def __init__(self, app: FastAPI, port: int | None = None) -> None:
        self.port = port or free_port()
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_config=None, access_log=False
        )
        self.server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        """The server's base URL."""
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> ServerThread:
        self._thread.start()
        deadline = time.monotonic() + 300
        while not self.server.started:
            if not self._thread.is_alive():
                raise RuntimeError("the server thread stopped during startup")
            if time.monotonic() > deadline:
                raise TimeoutError("the server did not start")
            time.sleep(0.05)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.server.should_exit = True
        self._thread.join(60)


def spawn_server(env: dict[str, str], port: int, log: Path) -> subprocess.Popen[bytes]:
    """`python -m app.server_cli` in a subprocess, its JSON logs appended to `log`."""
    with log.open("ab") as sink:
        return subprocess.Popen(
            [sys.executable, "-m", "app.server_cli", "--host", "127.0.0.1", "--port", str(port)],
            cwd=ROOT,
            env={**os.environ, **env},
            stdout=sink,
            stderr=sink,
        )


def wait_until_ready(url: str, proc: subprocess.Popen[bytes], timeout_s: float = 300) -> None:
    """Poll `/ok` until the subprocess answers; fail if it exits first."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with {proc.returncode} during startup")
        try:
            if httpx.get(f"{url}/ok", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"{url} was not ready after {timeout_s} s")


def wait_for_status(
    client: Any, thread_id: str, run_id: str, wanted: str, timeout_s: float = 60
) -> None:
    """Poll a run through the sdk client until it has status `wanted` (fails after timeout_s)."""
    deadline = time.monotonic() + timeout_s
    while client.runs.get(thread_id, run_id)["status"] != wanted:
        assert time.monotonic() < deadline, f"run never became {wanted}"
        time.sleep(0.05)
