"""A TCP proxy in front of the test Redis that a test can freeze, so only its own client stalls."""

from __future__ import annotations

import contextlib
import socket
import threading
from types import TracebackType


class FaultyProxy:
    """Forward 127.0.0.1:<port> to a target; `freeze()` stalls traffic, `thaw()` drops it."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._frozen = threading.Event()
        self._closed = threading.Event()
        self._lock = threading.Lock()
        self._conns: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def __enter__(self) -> FaultyProxy:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            with self._lock:
                if self._closed.is_set():
                    client.close()
                    upstream.close()
                    return
                self._conns += [client, upstream]
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(src, dst), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                while self._frozen.is_set():
                    if self._closed.wait(0.01):
                        return
                dst.sendall(data)
        except OSError:
            return
        finally:
            for s in (src, dst):
                s.close()

    def freeze(self) -> None:
        """Stop forwarding: clients see their socket time out, Redis sees nothing."""
        self._frozen.set()

    def thaw(self) -> None:
        """Drop every connection opened before (their stalled bytes are discarded), resume."""
        with self._lock:
            conns, self._conns = self._conns, []
        for s in conns:
            with contextlib.suppress(OSError):  # already closed by its pump
                s.shutdown(socket.SHUT_RDWR)
            s.close()
        self._frozen.clear()

    def close(self) -> None:
        """Stop listening and drop every connection, including one being accepted right now."""
        with self._lock:
            self._closed.set()
            conns, self._conns = self._conns, []
        self._listener.close()
        for s in conns:
            s.close()
