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

from agents.supervisor import llm_verifier
from app.model_server import EmbeddedModelServer
from app.models import build_model_access
from app.runtime import quiet_model_libraries
from app.settings import get_settings
from benchmarks.machine import describe
from evals.routing import ItemResult, RoutingReport, load_routing_set, score
from tools.llm.engine import load_local_llm
from tools.models.embedder import MiniLMEmbedder
from tools.models.registry import ModelRegistry
from tools.routing.intent_classifier import IntentClassifier

MAX_CHARS = 200
LLM_CALLS = 12
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
    quiet_model_libraries()
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
    console = Console(width=160)
    console.print(table)
    console.print(llm_path_table(IntentClassifier.from_default(embedders[-1]), rows[-1]))


def llm_path_table(classifier: IntentClassifier, embedding_row: LatencyRow) -> Table:
    """Latency of the middle-band path: the same classify, then an LLM `RouteDecision` check.

    Uses the embedded Gemma 3 270M through the real OpenAI-compatible endpoint and instructor
    (JSON-schema constrained), on the eval messages of up to MAX_CHARS characters whose top two
    candidates are the verifier's choice; accuracy is the verdict against the gold intent.
    """
    settings = get_settings()
    registry = ModelRegistry(settings.local_device)
    engine = load_local_llm(
        registry, settings.cache_dir, settings.local_llm_quantize, settings.local_llm_threads
    )
    items = [i for i in load_routing_set() if len(i.text) <= MAX_CHARS and len(i.intents) == 1]
    items = [i for i in items if i.intents[0] != "escalate"][:LLM_CALLS]
    latencies: list[float] = []
    correct = 0
    with EmbeddedModelServer(engine, model_name=settings.model_name) as server:
        verify = llm_verifier(build_model_access(settings, server.base_url))
        verify(items[0].text, ["documents", "tutor"])
        for item in items:
            started = time.perf_counter()
            prediction = classifier.classify(item.text)
            ranked = sorted(prediction.scores, key=lambda k: -prediction.scores[k])
            candidates = [c for c in ranked if c != "escalate"][:2]
            verdict = verify(item.text, candidates)
            latencies.append((time.perf_counter() - started) * 1000)
            correct += verdict == item.intents[0]
    p50, p95 = np.percentile(latencies, 50), np.percentile(latencies, 95)
    table = Table(
        title=f"Router paths per message ({len(latencies)} LLM-verified calls, same run)",
        caption="embedding path = the default row above; LLM path = classify + RouteDecision",
    )
    for column in ("path", "wall p50 / p95 ms", "x embedding path p50", "verdict accuracy"):
        table.add_column(column, justify="left" if column == "path" else "right")
    table.add_row(
        "embedding only (default)",
        f"{embedding_row.percentile(50):.1f} / {embedding_row.percentile(95):.1f}",
        "1.0x",
        "-",
    )
    table.add_row(
        f"embedding + LLM check ({engine.model_name})",
        f"{p50:.1f} / {p95:.1f}",
        f"{p50 / embedding_row.percentile(50):.0f}x",
        f"{correct}/{len(items)}",
    )
    return table
