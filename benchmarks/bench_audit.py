"""Audit-write overhead per turn (8 events), batching on and off, on SQLite and Postgres."""

from __future__ import annotations

import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import quote

import psycopg
from rich.console import Console
from rich.table import Table

from benchmarks.machine import describe
from state.audit import AuditEvent, AuditEventType, open_audit, prompt_digest

POSTGRES_URL = os.environ.get(
    "MEDGRAPH_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
EVENTS_PER_TURN = 8
WARMUP_TURNS = 10
TURNS = 150
TURN_SHAPE: tuple[AuditEventType, ...] = (
    "guard",
    "route",
    "model_call",
    "tool_call",
    "tool_call",
    "model_call",
    "guard",
    "approval",
)


@dataclass(frozen=True)
class Result:
    """Per-turn costs (seconds) for one store and batching mode."""

    store: str
    batch: bool
    record: list[float]
    turn: list[float]


def _turn_events(turn: int) -> list[AuditEvent]:
    return [
        AuditEvent(
            event_type=kind,
            tenant="bench",
            user="bench-user",
            thread=f"bench-thread-{turn % 10}",
            run=f"run-{turn}",
            node=kind,
            payload={"turn": turn, "prompt": prompt_digest(f"prompt {turn}"), "score": 0.91},
        )
        for kind in TURN_SHAPE
    ]


def run_one(url: str, store: str, batch: bool) -> Result:
    """Record 8 events per turn and flush at the end of the turn, as the graph does."""
    records: list[float] = []
    turns: list[float] = []
    with open_audit(url, batch=batch) as audit:
        for turn in range(WARMUP_TURNS + TURNS):
            events = _turn_events(turn)
            t0 = time.perf_counter()
            for event in events:
                audit.record(event)
            t1 = time.perf_counter()
            audit.flush()
            t2 = time.perf_counter()
            if turn >= WARMUP_TURNS:
                records.append(t1 - t0)
                turns.append(t2 - t0)
        assert audit.verify().ok
    return Result(store, batch, records, turns)


@contextmanager
def _postgres_schema_url() -> Iterator[str]:
    schema = f"bench_audit_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in POSTGRES_URL else "?"
    try:
        yield f"{POSTGRES_URL}{sep}options={quote(f'-csearch_path={schema}')}"
    finally:
        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


def measure() -> list[Result]:
    """Both stores, batching on and off, each in a fresh table."""
    results: list[Result] = []
    with tempfile.TemporaryDirectory() as tmp:
        for batch in (False, True):
            url = f"sqlite:///{tmp}/audit-{batch}.sqlite"
            results.append(run_one(url, "SQLite", batch))
        for batch in (False, True):
            with _postgres_schema_url() as url:
                results.append(run_one(url, "Postgres", batch))
    return results


def _p95(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=100)[94]


def render(results: list[Result]) -> Table:
    """Per-turn costs, with the ratio against the unbatched writer on the same store."""
    table = Table(
        title=f"Audit overhead per turn ({EVENTS_PER_TURN} events, {TURNS} turns, flush per turn)",
        caption=describe(),
    )
    for column in (
        "store",
        "batching",
        "record() p50 µs",
        "record() p95 µs",
        "turn incl. flush p50 ms",
        "turn incl. flush p95 ms",
        "hot path × unbatched",
    ):
        table.add_column(column, justify="left" if column in ("store", "batching") else "right")
    unbatched = {r.store: statistics.median(r.record) for r in results if not r.batch}
    for r in results:
        table.add_row(
            r.store,
            "on" if r.batch else "off",
            f"{statistics.median(r.record) * 1e6:,.0f}",
            f"{_p95(r.record) * 1e6:,.0f}",
            f"{statistics.median(r.turn) * 1e3:.2f}",
            f"{_p95(r.turn) * 1e3:.2f}",
            f"{statistics.median(r.record) / unbatched[r.store]:.3f}",
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
