"""Router latency per message (<= 200 chars) and eval quality: fp32 baseline vs optimised MiniLM.

Every variant routes every eval message in the same run, interleaved message by message so
that load from other processes hits all alike; `ROUNDS` passes after `WARMUP` warm-up calls.
A call is the full deterministic path the supervisor runs: safety lexicon, segmentation, one
embedding call, softmax head. Quality comes from the first pass over the full eval set.

Wall time is what a user waits; on a machine shared with other work it is mostly queueing. CPU
time (`time.process_time`, all threads of this process) is what the call itself costs: for the
one-thread variant it approximates wall time on an idle machine; for multi-threaded variants
it also counts worker spin-waits, so it overstates theirs.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

import numpy as np
import torch
from rich.console import Console
from rich.table import Table

from benchmarks.machine import describe
from evals.routing import ItemResult, RoutingReport, load_routing_set, score
from tools.models.embedder import MiniLMEmbedder
from tools.routing.intent_classifier import IntentClassifier

MAX_CHARS = 200
WARMUP = 20
ROUNDS = 2


@dataclass(frozen=True)
class LatencyRow:
    """One router variant: its latencies per message (ms) and its eval report."""

    name: str
    latencies_ms: list[float]
    cpu_ms: list[float]
    report: RoutingReport

    def percentile(self, q: float) -> float:
        """Wall-clock latency percentile in milliseconds."""
        return float(np.percentile(self.latencies_ms, q))

    def cpu_percentile(self, q: float) -> float:
        """CPU-time percentile in milliseconds."""
        return float(np.percentile(self.cpu_ms, q))


def measure(variants: dict[str, IntentClassifier]) -> list[LatencyRow]:
    """Route the eval set with every variant, interleaved, and time messages <= MAX_CHARS."""
    items = load_routing_set()
    short = [i for i in items if len(i.text) <= MAX_CHARS]
    for classifier in variants.values():
        for item in short[:WARMUP]:
            classifier.classify(item.text)
    latencies: dict[str, list[float]] = {name: [] for name in variants}
    cpu: dict[str, list[float]] = {name: [] for name in variants}
    results: dict[str, list[ItemResult]] = {name: [] for name in variants}
    for round_number in range(ROUNDS):
        for item in items:
            for name, classifier in variants.items():
                started, cpu_started = time.perf_counter(), time.process_time()
                prediction = classifier.classify(item.text)
                cpu_ms = (time.process_time() - cpu_started) * 1000
                elapsed_ms = (time.perf_counter() - started) * 1000
                if len(item.text) <= MAX_CHARS:
                    latencies[name].append(elapsed_ms)
                    cpu[name].append(cpu_ms)
                if round_number == 0:
                    results[name].append(ItemResult(item, prediction))
    return [LatencyRow(name, latencies[name], cpu[name], score(results[name])) for name in variants]


def _agreement(a: RoutingReport, b: RoutingReport) -> float:
    """Share of items with the same top intent and the same segment intents."""
    return float(
        np.mean(
            [
                x.prediction.intent == y.prediction.intent
                and x.segment_intents == y.segment_intents
                for x, y in zip(a.results, b.results, strict=True)
            ]
        )
    )


def main() -> None:
    """Load the embedders, measure, and print the table."""
    embedders = [
        MiniLMEmbedder.load("cpu", quantize=False, trace=False, threads=0),
        MiniLMEmbedder.load("cpu", threads=2),
        MiniLMEmbedder.load("cpu"),
    ]
    labels = ["fp32 baseline", "optimised, 2 threads", "optimised (default)"]
    rows = measure(
        {
            f"{label} ({e.variant})": IntentClassifier.from_default(e)
            for label, e in zip(labels, embedders, strict=True)
        }
    )
    base = rows[0]
    table = Table(
        title=f"Router latency per message (<= {MAX_CHARS} chars, {len(base.latencies_ms)} calls)",
        caption=(
            f"{describe()}; torch {torch.__version__}; load average at end {os.getloadavg()[0]:.1f}"
        ),
    )
    columns = ("variant", "wall p50 / p95 ms", "speed-up p50 / p95", "CPU p50 / p95 ms")
    for column in (*columns, "macro-F1", "esc. recall", "false esc.", "same decisions"):
        table.add_column(column, justify="left" if column == "variant" else "right")
    for row in rows:
        table.add_row(
            row.name,
            f"{row.percentile(50):.2f} / {row.percentile(95):.2f}",
            f"{base.percentile(50) / row.percentile(50):.2f}x / "
            f"{base.percentile(95) / row.percentile(95):.2f}x",
            f"{row.cpu_percentile(50):.2f} / {row.cpu_percentile(95):.2f}",
            f"{row.report.macro_f1:.3f}",
            f"{row.report.escalate_recall:.3f}",
            f"{row.report.false_escalation_rate:.3f}",
            f"{_agreement(base.report, row.report):.1%}",
        )
    # The supervisor's LLM-verification row (0.65-0.85 band) goes here once it is measured.
    Console(width=160).print(table)
