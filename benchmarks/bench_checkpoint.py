"""Checkpoint put + get_tuple speed: our RedisSaver vs the official Postgres and SQLite savers."""

from __future__ import annotations

import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import psycopg
import redis
from langchain_core.messages import AIMessage, AnyMessage, HumanMessage
from langgraph.checkpoint.base import BaseCheckpointSaver, Checkpoint
from langgraph.checkpoint.base.id import uuid6
from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer
from rich.console import Console
from rich.table import Table

from benchmarks.machine import describe
from state.checkpointer import open_checkpointer

REDIS_URL = os.environ.get("MEDGRAPH_BENCH_REDIS_URL", "redis://127.0.0.1:6379/15")
POSTGRES_URL = os.environ.get(
    "MEDGRAPH_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
WARMUP = 30
ITERATIONS = 300


@dataclass(frozen=True)
class Result:
    """Latencies (seconds) of one backend on one state size."""

    backend: str
    state: str
    put: list[float]
    get: list[float]

    @property
    def pair_ops(self) -> float:
        """put + get_tuple pairs per second."""
        return len(self.put) / (sum(self.put) + sum(self.get))


def _messages(n: int) -> list[AnyMessage]:
    text = "The chest radiograph shows no focal consolidation; heart size is normal. " * 3
    return [
        HumanMessage(content=f"{i}: {text}", id=str(uuid.uuid4()))
        if i % 2 == 0
        else AIMessage(content=f"{i}: {text}", id=str(uuid.uuid4()))
        for i in range(n)
    ]


STATES: dict[str, Callable[[int], dict[str, Any]]] = {
    "small": lambda step: {"messages": _messages(2), "turns": step, "user_id": "u-1"},
    "200 messages": lambda step: {"messages": _messages(200), "turns": step, "user_id": "u-1"},
}


def _checkpoint(values: dict[str, Any], step: int) -> Checkpoint:
    return Checkpoint(
        v=4,
        id=str(uuid6(clock_seq=step)),
        ts=datetime.now(UTC).isoformat(),
        channel_values=values,
        channel_versions={k: step + 1 for k in values},
        versions_seen={"agent": {k: step for k in values}},
        updated_channels=list(values),
    )


def _p(samples: list[float], q: float) -> float:
    return statistics.quantiles(samples, n=100)[int(q) - 1] if len(samples) > 1 else samples[0]


class _SaverLoop:
    """One backend's thread: each `step` puts the next checkpoint and reads the latest back."""

    def __init__(self, saver: BaseCheckpointSaver) -> None:
        thread = f"bench-{uuid.uuid4().hex[:8]}"
        self.saver = saver
        self.config: dict[str, Any] = {"configurable": {"thread_id": thread, "checkpoint_ns": ""}}
        self.latest = {"configurable": {"thread_id": thread, "checkpoint_ns": ""}}

    def step(self, values: dict[str, Any], step: int) -> tuple[float, float]:
        checkpoint = _checkpoint(values, step)
        new_versions = {"messages": step + 1, "turns": step + 1}
        metadata: dict[str, Any] = {"source": "loop", "step": step}
        t0 = time.perf_counter()
        self.config = self.saver.put(self.config, checkpoint, metadata, new_versions)
        t1 = time.perf_counter()
        loaded = self.saver.get_tuple(self.latest)
        t2 = time.perf_counter()
        assert loaded is not None and loaded.checkpoint["id"] == checkpoint["id"]
        return t1 - t0, t2 - t1


class _SerdeLoop:
    """The serializer alone (dumps + loads of the same state): no saver can beat this floor."""

    def __init__(self) -> None:
        self.serde = JsonPlusSerializer()

    def step(self, values: dict[str, Any], step: int) -> tuple[float, float]:
        t0 = time.perf_counter()
        dumped = [self.serde.dumps_typed(v) for v in values.values()]
        t1 = time.perf_counter()
        for typed in dumped:
            self.serde.loads_typed(typed)
        t2 = time.perf_counter()
        return t1 - t0, t2 - t1


def run_interleaved(loops: dict[str, _SaverLoop | _SerdeLoop], state: str) -> list[Result]:
    """Step every backend in turn, so load from other processes hits them all alike."""
    values = STATES[state](0)
    samples: dict[str, tuple[list[float], list[float]]] = {name: ([], []) for name in loops}
    for step in range(WARMUP + ITERATIONS):
        values["turns"] = step
        for name, loop in loops.items():
            put_s, get_s = loop.step(values, step)
            if step >= WARMUP:
                samples[name][0].append(put_s)
                samples[name][1].append(get_s)
    return [Result(name, state, puts, gets) for name, (puts, gets) in samples.items()]


@contextmanager
def _postgres_schema_url() -> Iterator[str]:
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in POSTGRES_URL else "?"
    try:
        yield f"{POSTGRES_URL}{sep}options={quote(f'-csearch_path={schema}')}"
    finally:
        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


def _clear_redis(prefix: str) -> None:
    client = redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()


def measure() -> list[Result]:
    """Every backend on every state size, interleaved step by step."""
    results: list[Result] = []
    prefix = f"bench:{uuid.uuid4().hex[:8]}"
    with (
        tempfile.TemporaryDirectory() as tmp,
        _postgres_schema_url() as pg_url,
        open_checkpointer(REDIS_URL, redis_prefix=prefix) as redis_saver,
        open_checkpointer(pg_url) as pg_saver,
        open_checkpointer(f"sqlite:///{tmp}/bench.sqlite") as sqlite_saver,
    ):
        try:
            for state in STATES:
                loops: dict[str, _SaverLoop | _SerdeLoop] = {
                    "RedisSaver (ours)": _SaverLoop(redis_saver),
                    "PostgresSaver": _SaverLoop(pg_saver),
                    "SqliteSaver": _SaverLoop(sqlite_saver),
                    "serde only (floor)": _SerdeLoop(),
                }
                results += run_interleaved(loops, state)
        finally:
            _clear_redis(prefix)
    return results


def render(results: list[Result]) -> Table:
    """The results with ratios against PostgresSaver and SqliteSaver on the same state size."""
    table = Table(
        title=f"Checkpoint put + get_tuple ({ITERATIONS} pairs after {WARMUP} warm-up)",
        caption=describe(),
    )
    for column in (
        "backend",
        "state",
        "put+get ops/s",
        "put p50 ms",
        "put p95 ms",
        "get p50 ms",
        "get p95 ms",
        "× Postgres",
        "× SQLite",
    ):
        table.add_column(column, justify="left" if column in ("backend", "state") else "right")
    by_key = {(r.backend, r.state): r for r in results}
    for r in results:
        pg = by_key[("PostgresSaver", r.state)].pair_ops
        lite = by_key[("SqliteSaver", r.state)].pair_ops
        table.add_row(
            r.backend,
            r.state,
            f"{r.pair_ops:,.0f}",
            f"{statistics.median(r.put) * 1e3:.2f}",
            f"{_p(r.put, 95) * 1e3:.2f}",
            f"{statistics.median(r.get) * 1e3:.2f}",
            f"{_p(r.get, 95) * 1e3:.2f}",
            f"{r.pair_ops / pg:.2f}",
            f"{r.pair_ops / lite:.2f}",
        )
    return table


def main() -> None:
    """Measure and print the table."""
    console = Console()
    if not console.is_terminal:
        console.width = 150
    console.print(render(measure()))


if __name__ == "__main__":
    main()
