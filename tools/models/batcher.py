"""Stack requests that arrive within a few milliseconds into one batch for one model call.

One worker thread takes the first waiting request, keeps collecting until `window_s` has passed
or `max_batch` requests are in hand, runs `run_batch` once on all of them, and hands each caller
its own result. A failed batch fails each of its callers with the same error.

Usage:
    batcher = MicroBatcher(lambda items: model.predict(items), max_batch=8, window_s=0.005)
    result = batcher.submit(item).result()      # from any number of threads
    batcher.close()
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Generic, TypeVar

from state.errors import ConfigError, InputError

In = TypeVar("In")
Out = TypeVar("Out")


@dataclass(frozen=True)
class _Request(Generic[In, Out]):
    item: In
    future: Future[Out]


class MicroBatcher(Generic[In, Out]):
    """A queue whose worker runs `run_batch` on whatever arrived together."""

    def __init__(
        self,
        run_batch: Callable[[Sequence[In]], Sequence[Out]],
        *,
        max_batch: int = 8,
        window_s: float = 0.005,
        name: str = "batcher",
    ) -> None:
        if max_batch < 1 or window_s < 0:
            raise ConfigError(f"need max_batch >= 1 and window_s >= 0, got {max_batch}, {window_s}")
        self._run_batch = run_batch
        self.max_batch = max_batch
        self.window_s = window_s
        self._queue: queue.Queue[_Request[In, Out] | None] = queue.Queue()
        self._closed = False
        self._lock = threading.Lock()
        self.batch_sizes: list[int] = []
        self._worker = threading.Thread(target=self._serve, name=name, daemon=True)
        self._worker.start()

    def submit(self, item: In) -> Future[Out]:
        """Queue one item; the future holds its result (or the batch's error)."""
        future: Future[Out] = Future()
        with self._lock:
            if self._closed:
                raise InputError("the batcher is closed")
            self._queue.put(_Request(item, future))
        return future

    def close(self) -> None:
        """Finish the queued requests, then stop the worker."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._queue.put(None)
        self._worker.join()

    def _collect(self, first: _Request[In, Out]) -> tuple[list[_Request[In, Out]], bool]:
        batch = [first]
        deadline = time.monotonic() + self.window_s
        while len(batch) < self.max_batch:
            try:
                request = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            if request is None:
                return batch, True
            batch.append(request)
        return batch, False

    def _serve(self) -> None:
        stopping = False
        while not stopping:
            first = self._queue.get()
            if first is None:
                return
            batch, stopping = self._collect(first)
            live = [r for r in batch if r.future.set_running_or_notify_cancel()]
            if not live:
                continue
            self.batch_sizes.append(len(live))
            try:
                results = self._run_batch([r.item for r in live])
                if len(results) != len(live):
                    raise RuntimeError(f"run_batch gave {len(results)} results for {len(live)}")
            except Exception as exc:  # every caller of the batch gets the error
                for request in live:
                    request.future.set_exception(exc)
                continue
            for request, result in zip(live, results, strict=True):
                request.future.set_result(result)
