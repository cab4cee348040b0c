"""The micro-batcher: requests arriving together share one call; results go to their callers."""

from __future__ import annotations

import threading
from collections.abc import Sequence

import pytest

from state.errors import ConfigError, InputError
from tools.models.batcher import MicroBatcher


def _square_all(calls: list[list[int]]):
    def run(items: Sequence[int]) -> list[int]:
        calls.append(list(items))
        return [i * i for i in items]

    return run


def _together(batcher: MicroBatcher[int, int], items: list[int]) -> dict[int, int]:
    results: dict[int, int] = {}
    start = threading.Barrier(len(items))

    def ask(item: int) -> None:
        start.wait()
        results[item] = batcher.submit(item).result(timeout=10)

    threads = [threading.Thread(target=ask, args=(i,)) for i in items]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_concurrent_requests_are_stacked_and_each_caller_gets_its_own_result() -> None:
    calls: list[list[int]] = []
    batcher = MicroBatcher(_square_all(calls), max_batch=8, window_s=0.3)
    results = _together(batcher, list(range(6)))
    batcher.close()
    assert results == {i: i * i for i in range(6)}
    assert len(calls) < 6 and sorted(i for c in calls for i in c) == list(range(6))
    assert batcher.batch_sizes == [len(c) for c in calls]


def test_no_batch_is_larger_than_max_batch() -> None:
    calls: list[list[int]] = []
    batcher = MicroBatcher(_square_all(calls), max_batch=2, window_s=0.3)
    futures = [batcher.submit(i) for i in range(5)]
    assert [f.result(timeout=10) for f in futures] == [0, 1, 4, 9, 16]
    batcher.close()
    assert max(len(c) for c in calls) == 2 and calls[0] == [0, 1]


def test_a_failed_batch_fails_each_of_its_callers_and_the_worker_goes_on() -> None:
    def run(items: Sequence[int]) -> list[int]:
        if 13 in items:
            raise InputError("unlucky batch")
        return list(items)

    batcher = MicroBatcher(run, max_batch=4, window_s=0.2)
    bad = [batcher.submit(13), batcher.submit(1)]
    for future in bad:
        with pytest.raises(InputError, match="unlucky"):
            future.result(timeout=10)
    assert batcher.submit(2).result(timeout=10) == 2
    batcher.close()
    with pytest.raises(InputError, match="closed"):
        batcher.submit(3)


def test_close_finishes_queued_requests_and_settings_are_checked() -> None:
    calls: list[list[int]] = []
    batcher = MicroBatcher(_square_all(calls), max_batch=1, window_s=0.0)
    futures = [batcher.submit(i) for i in range(3)]
    batcher.close()
    assert [f.result(timeout=1) for f in futures] == [0, 1, 4]
    with pytest.raises(ConfigError):
        MicroBatcher(_square_all(calls), max_batch=0)
