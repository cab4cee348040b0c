"""Guard overhead per turn: the same graph with the guard nodes on and off, 200 to 20,000 chars.

Each message runs twice through the same compiled graph shape (real router on MiniLM, a
fixed-reply agent, no LLM anywhere), once with guards off and once on, with the embedding memo
cleared before each run, so both pay for exactly one MiniLM pass: the router's when off, the
input guard's (reused by the router) when on. Overhead is the paired difference.

Each message runs `REPEATS` times each way (interleaved) and keeps its fastest run per way: a
2,000-character turn takes ~400 ms, and on a shared 2-core machine one noisy run swings it by
~90 ms, which a single paired difference would report as guard overhead. Even so, the paired
difference of two ~400 ms turns keeps a tail of that noise, so a second table times the guards'
own work directly: the input guard (with the message's MiniLM windows already in the memo, as
the router would have computed them anyway) plus the output guard, beside the MiniLM pass they
share with the router, measured on the same messages in the same run.
"""

from __future__ import annotations

import os
import random
import statistics
import time
from dataclasses import dataclass

import numpy as np
import torch
from langchain_core.messages import HumanMessage
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph.state import CompiledStateGraph
from rich.console import Console
from rich.table import Table

from agents.escalate import EscalateAgent
from agents.registry import AgentRegistry, AgentTask
from agents.supervisor import RoutingThresholds, SupervisorRouter
from app.settings import Settings
from benchmarks.machine import describe
from graphs.guard_nodes import GraphGuards
from graphs.supervisor import build_supervisor_graph
from state.schema import INTENTS, AgentAnswer, Intent, PhiVault
from tools.guards.assembly import GuardConfig, GuardSet, build_guard_set
from tools.models.embedder import MiniLMEmbedder
from tools.routing.intent_classifier import IntentClassifier

SIZES = (200, 2_000, 20_000)
REPLY = "Draft noted for review."
TURNS = {200: 60, 2_000: 60, 20_000: 8}
REPEATS = {200: 3, 2_000: 3, 20_000: 1}
WARMUP = 3
SENTENCES = (
    "Please draft a report for the chest X-ray of Mr John Smith, MRN 00123456.",
    "The PA film shows a small left pleural effusion and mild cardiomegaly.",
    "There is no pneumothorax and the costophrenic angles are otherwise clear.",
    "Compare with the previous film from 03/04/2023 if it is available.",
    "Note any lines or tubes and comment on their position.",
    "The patient reports a cough for three weeks without fever.",
)


class FixedReply:
    """A specialist that answers with fixed text: the turn has no LLM call to measure."""

    def __init__(self, intent: Intent) -> None:
        self.name = intent

    def run(self, task: AgentTask) -> AgentAnswer:
        return AgentAnswer(order=task.order, agent=self.name, text=REPLY)


@dataclass(frozen=True)
class Row:
    """Per-turn timings (ms) of one message size."""

    chars: int
    off_wall: list[float]
    on_wall: list[float]
    off_cpu: list[float]
    on_cpu: list[float]

    @staticmethod
    def pct(values: list[float], q: float) -> float:
        return float(np.percentile(np.array(values), q))


def message(chars: int, rng: random.Random) -> str:
    """A clinical message of exactly `chars` characters, different every call."""
    parts: list[str] = [f"Case {rng.randrange(10**6)}."]
    while sum(len(p) + 1 for p in parts) < chars:
        parts.append(rng.choice(SENTENCES))
    return " ".join(parts)[:chars]


def graphs(guards: GuardSet) -> tuple[CompiledStateGraph, CompiledStateGraph]:
    """The same graph with guards off and on."""
    classifier = IntentClassifier.from_default(guards.embeddings)
    registry = AgentRegistry()
    registry.register(EscalateAgent())
    for intent in INTENTS:
        if intent != "escalate":
            registry.register(FixedReply(intent))
    router = SupervisorRouter(classifier, RoutingThresholds(0.85, 0.65, 0.03), None)
    limits = {intent: 20_000 for intent in INTENTS}
    on = GraphGuards(guards.input, guards.output, limits)
    off_graph = build_supervisor_graph(router, registry).compile(checkpointer=InMemorySaver())
    on_graph = build_supervisor_graph(router, registry, None, on).compile(
        checkpointer=InMemorySaver()
    )
    return off_graph, on_graph


def run(graph: CompiledStateGraph, guards: GuardSet, text: str, thread: str) -> tuple[float, float]:
    """One cold turn: (wall ms, process CPU ms)."""
    guards.embeddings.clear()
    config = {"configurable": {"thread_id": thread}}
    wall, cpu = time.perf_counter(), time.process_time()
    graph.invoke({"messages": [HumanMessage(text)], "user_id": "bench"}, config)
    return (time.perf_counter() - wall) * 1000, (time.process_time() - cpu) * 1000


def measure(guards: GuardSet) -> list[Row]:
    """Interleaved off/on turns per size, after a warm-up."""
    off_graph, on_graph = graphs(guards)
    rng = random.Random(0)
    rows = []
    for chars in SIZES:
        for i in range(WARMUP):
            text = message(chars, rng)
            run(off_graph, guards, text, f"w-off-{chars}-{i}")
            run(on_graph, guards, text, f"w-on-{chars}-{i}")
        timings: dict[str, list[float]] = {k: [] for k in ("ow", "nw", "oc", "nc")}
        for i in range(TURNS[chars]):
            text = message(chars, rng)
            first, second = (off_graph, on_graph) if i % 2 == 0 else (on_graph, off_graph)
            runs: dict[bool, list[tuple[float, float]]] = {True: [], False: []}
            for r in range(REPEATS[chars]):
                for graph in (first, second):
                    runs[graph is off_graph].append(run(graph, guards, text, f"{chars}-{i}-{r}"))
            off, on = min(runs[True]), min(runs[False])
            timings["ow"].append(off[0])
            timings["nw"].append(on[0])
            timings["oc"].append(off[1])
            timings["nc"].append(on[1])
        rows.append(Row(chars, timings["ow"], timings["nw"], timings["oc"], timings["nc"]))
    return rows


def guard_work(guards: GuardSet) -> Table:
    """The guards' own time per message (the shared MiniLM pass excluded) beside that pass."""
    table = Table(title="Guard work per message, the shared MiniLM pass excluded (fastest of 3)")
    for column in ("chars", "messages", "guards p50/p95 ms", "MiniLM pass p50/p95 ms", "ratio p50"):
        table.add_column(column, justify="right")
    rng = random.Random(1)
    for chars in SIZES:
        work, shared = [], []
        for _ in range(TURNS[chars]):
            text = message(chars, rng)
            redacted = guards.input.check(text, PhiVault()).text
            guards.embeddings.clear()
            started = time.perf_counter()
            guards.embeddings.message_windows(redacted)
            shared.append((time.perf_counter() - started) * 1000)
            best = float("inf")
            for _ in range(3):
                vault = PhiVault()
                started = time.perf_counter()
                guards.input.check(text, vault)
                guards.output.check(REPLY, route="radiology", vault=vault)
                best = min(best, (time.perf_counter() - started) * 1000)
            work.append(best)
        table.add_row(
            f"{chars:,}",
            str(len(work)),
            f"{Row.pct(work, 50):.1f} / {Row.pct(work, 95):.1f}",
            f"{Row.pct(shared, 50):.1f} / {Row.pct(shared, 95):.1f}",
            f"{Row.pct(work, 50) / Row.pct(shared, 50):.2f}x",
        )
    return table


def main() -> None:
    """Build the real guards, measure, and print the table."""
    embedder = MiniLMEmbedder.load("cpu")
    settings = Settings()
    guards = build_guard_set(
        embedder,
        GuardConfig(profile="prod", cache_dir=settings.cache_dir, max_chars=20_000),
        embedder_id=f"minilm-{embedder.variant}",
    )
    rows = measure(guards)
    table = Table(
        title="Guard overhead per turn (input + output guard nodes; no LLM anywhere)",
        caption=(
            f"{describe()}; torch {torch.__version__}; load average at end "
            f"{os.getloadavg()[0]:.1f}; overhead = paired (on - off) per message, "
            f"fastest of {REPEATS[2_000]} runs each way (20,000 chars: {REPEATS[20_000]})"
        ),
    )
    columns = (
        "chars",
        "turns",
        "off wall p50/p95 ms",
        "on wall p50/p95 ms",
        "overhead wall p50/p95 ms",
        "overhead CPU p50/p95 ms",
        "on/off p50",
    )
    for column in columns:
        table.add_column(column, justify="right")
    for row in rows:
        wall = [n - o for n, o in zip(row.on_wall, row.off_wall, strict=True)]
        cpu = [n - o for n, o in zip(row.on_cpu, row.off_cpu, strict=True)]
        table.add_row(
            f"{row.chars:,}",
            str(len(wall)),
            f"{row.pct(row.off_wall, 50):.1f} / {row.pct(row.off_wall, 95):.1f}",
            f"{row.pct(row.on_wall, 50):.1f} / {row.pct(row.on_wall, 95):.1f}",
            f"{row.pct(wall, 50):.1f} / {row.pct(wall, 95):.1f}",
            f"{row.pct(cpu, 50):.1f} / {row.pct(cpu, 95):.1f}",
            f"{statistics.median(row.on_wall) / statistics.median(row.off_wall):.2f}x",
        )
    Console().print(table)
    Console().print(guard_work(guards))
    snapshot = guards.metrics.snapshot()
    per_guard = Table(title="Per-guard decision latency (ms), all sizes")
    for column in ("guard", "p50", "p95", "decisions"):
        per_guard.add_column(column, justify="right")
    for guard, stats in sorted(snapshot.items()):
        count = sum(v for k, v in stats.items() if not k.endswith("_ms"))
        per_guard.add_row(guard, f"{stats['p50_ms']:.2f}", f"{stats['p95_ms']:.2f}", f"{count:.0f}")
    Console().print(per_guard)
