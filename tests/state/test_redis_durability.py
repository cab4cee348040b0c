"""Redis checkpointer under stress: kill -9 and resume, 50 concurrent threads, Redis stalls."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from state.errors import StateUnavailable
from state.redis_saver import RedisSaver
from state.redis_saver_aio import AsyncRedisSaver
from tests.state.faulty_proxy import FaultyProxy
from tests.state.graphs import build_slow_graph, build_turn_graph

pytestmark = pytest.mark.services

ROOT = Path(__file__).resolve().parents[2]
N_STEPS = 8


def _completed_steps(saver: RedisSaver, thread: str) -> list[str]:
    tup = saver.get_tuple({"configurable": {"thread_id": thread, "checkpoint_ns": ""}})
    return list(tup.checkpoint["channel_values"].get("steps", [])) if tup else []


def test_kill_9_mid_run_then_resume_loses_and_repeats_no_step(redis_url, redis_prefix, tmp_path):
    thread, log = "killed-run", tmp_path / "executions.log"
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.state.slow_worker",
            redis_url,
            redis_prefix,
            thread,
            str(log),
            str(N_STEPS),
            "0.3",
        ],
        cwd=ROOT,
    )
    with RedisSaver.from_url(redis_url, prefix=redis_prefix) as saver:
        deadline = time.monotonic() + 60
        while len(_completed_steps(saver, thread)) < 3:
            assert worker.poll() is None, "worker ended before it could be killed"
            assert time.monotonic() < deadline, "worker made no progress"
            time.sleep(0.05)
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(10)
        assert worker.returncode == -signal.SIGKILL
        before = _completed_steps(saver, thread)
        assert 3 <= len(before) < N_STEPS

        graph = build_slow_graph(saver, N_STEPS, 0.0, log)
        config = {"configurable": {"thread_id": thread}}
        assert graph.get_state(config).next, "the killed run must have work left"
        final = graph.invoke(None, config)

    expected = [f"step{i}" for i in range(N_STEPS)]
    assert final["steps"] == expected, "a step was lost or applied twice"
    executions = log.read_text().split()
    assert sorted(set(executions)) == sorted(expected)
    # Only the step in flight at the kill may run twice (checkpoints are taken between steps).
    repeated = [s for s in expected if executions.count(s) > 1]
    assert len(repeated) <= 1, executions
    assert all(executions.count(s) == 1 for s in before), "a checkpointed step ran again"


def test_50_concurrent_threads_10_turns_never_share_state(redis_url, redis_prefix):
    with RedisSaver.from_url(redis_url, prefix=redis_prefix, max_connections=64) as saver:
        graph = build_turn_graph(saver)

        def converse(i: int) -> dict:
            config = {"configurable": {"thread_id": f"user-{i}"}}
            for _ in range(10):
                graph.invoke({"thread": f"user-{i}"}, config)
            return graph.get_state(config).values

        with ThreadPoolExecutor(max_workers=50) as pool:
            results = list(pool.map(converse, range(50)))

    for i, values in enumerate(results):
        expected = []
        for turn in range(1, 11):
            expected += [f"user-{i}:route", f"user-{i}:answer:{turn}"]
        assert values["turns"] == 10
        assert values["steps"] == expected


async def test_50_concurrent_async_threads_10_turns_never_share_state(redis_url, redis_prefix):
    async with AsyncRedisSaver.from_url(redis_url, prefix=redis_prefix) as saver:
        graph = build_turn_graph(saver)

        async def converse(i: int) -> dict:
            config = {"configurable": {"thread_id": f"auser-{i}"}}
            for _ in range(10):
                await graph.ainvoke({"thread": f"auser-{i}"}, config)
            return (await graph.aget_state(config)).values

        results = await asyncio.gather(*(converse(i) for i in range(50)))
        history = await asyncio.to_thread(
            lambda: list(graph.get_state_history({"configurable": {"thread_id": "auser-7"}}))
        )
        assert len(history) == 40  # sync reads from another thread work on the async saver
    for i, values in enumerate(results):
        assert values["turns"] == 10
        assert set(values["steps"]) == {f"auser-{i}:route"} | {
            f"auser-{i}:answer:{t}" for t in range(1, 11)
        }


def test_redis_stall_raises_state_unavailable_and_keeps_last_good_checkpoint(
    redis_url, redis_prefix
):
    host, port = "127.0.0.1", int(redis_url.split(":")[2].split("/")[0])
    db = redis_url.rsplit("/", 1)[1]
    with FaultyProxy(host, port) as proxy:
        url = f"redis://127.0.0.1:{proxy.port}/{db}"
        with RedisSaver.from_url(
            url, prefix=redis_prefix, socket_timeout_s=0.5, retries=0
        ) as saver:
            graph = build_turn_graph(saver)
            config = {"configurable": {"thread_id": "stalled"}}
            graph.invoke({"thread": "s"}, config)
            graph.invoke({"thread": "s"}, config)
            good = graph.get_state(config)

            proxy.freeze()
            started = time.monotonic()
            with pytest.raises(StateUnavailable) as info:
                graph.invoke({"thread": "s"}, config)
            assert time.monotonic() - started < 5
            assert f"127.0.0.1:{proxy.port}" in str(info.value)
            assert "timed out" in str(info.value)
            proxy.thaw()

            after = graph.get_state(config)
            assert after.values == good.values
            assert (
                after.config["configurable"]["checkpoint_id"]
                == (good.config["configurable"]["checkpoint_id"])
            )
            assert all(t.checkpoint for t in saver.list(config))
            graph.invoke({"thread": "s"}, config)
            assert graph.get_state(config).values["turns"] == 3


def test_redis_down_is_state_unavailable_naming_the_url(redis_url, redis_prefix):
    port = int(redis_url.split(":")[2].split("/")[0])
    with FaultyProxy("127.0.0.1", port) as proxy:
        url = f"redis://127.0.0.1:{proxy.port}/15"
        with RedisSaver.from_url(url, prefix=redis_prefix, socket_timeout_s=0.5, retries=0) as s:
            proxy.close()
            with pytest.raises(StateUnavailable, match=str(proxy.port)):
                s.get_tuple({"configurable": {"thread_id": "x", "checkpoint_ns": ""}})
