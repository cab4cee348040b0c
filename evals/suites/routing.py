"""Routing suite: the embedding router on the labelled utterances (`routing.jsonl`).

Scoring follows `evals/routing.py` (macro-F1 over the six intents with multi-intent items
contributing their segment intents; confusion over single-intent items), with per-item rows so
every metric gets a bootstrap interval. Latency is the classifier's wall time per message
(shared embedding memo cleared first, so each message is embedded cold).
"""

from __future__ import annotations

import time

import numpy as np

from evals.datasets import dataset
from evals.harness import EvalContext, Suite
from evals.results import ConfusionData, ReliabilityData, SuiteResult, TableData
from evals.routing import ItemResult, load_routing_set, score
from evals.stats import ece_rows, macro_f1_rows, mean_rows, ratio_rows
from state.schema import INTENTS


def run(ctx: EvalContext) -> SuiteResult:
    """Classify every utterance and score the router."""
    ref, path = dataset("routing")
    items = load_routing_set(path)
    classifier = ctx.classifier
    ctx.embeddings.clear()
    results, latencies = [], []
    for item in items:
        started = time.perf_counter()
        prediction = classifier.classify(item.text)
        latencies.append((time.perf_counter() - started) * 1000)
        results.append(ItemResult(item, prediction))
    report = score(results)
    ids = [r.item.id for r in results]
    gold = [set(r.item.intents) for r in results]
    single = [len(r.item.intents) == 1 for r in results]
    multi = [not s for s in single]
    routed_escalate = [r.prediction.intent == "escalate" for r in results]
    wants_escalate = ["escalate" in g for g in gold]
    singles = [r for r in results if len(r.item.intents) == 1]
    correct = [r.prediction.intent == r.item.intents[0] for r in singles]
    confidences = [r.prediction.confidence for r in singles]
    metrics = [
        ctx.metric(
            "macro_f1",
            "macro_f1",
            ids,
            macro_f1_rows(gold, [r.predicted_set for r in results], INTENTS),
        ),
        ctx.metric(
            "top1_accuracy",
            "ratio",
            ids,
            ratio_rows(
                [
                    s and r.prediction.intent == r.item.intents[0]
                    for s, r in zip(single, results, strict=True)
                ],
                single,
            ),
        ),
        ctx.metric(
            "exact_set_accuracy",
            "ratio",
            ids,
            mean_rows(set(r.segment_intents) == g for r, g in zip(results, gold, strict=True)),
        ),
        ctx.metric(
            "multi_order_accuracy",
            "ratio",
            ids,
            ratio_rows(
                [
                    m and r.segment_intents == list(r.item.intents)
                    for m, r in zip(multi, results, strict=True)
                ],
                multi,
            ),
        ),
        ctx.metric(
            "escalate_recall",
            "ratio",
            ids,
            ratio_rows(
                [w and e for w, e in zip(wants_escalate, routed_escalate, strict=True)],
                wants_escalate,
            ),
        ),
        ctx.metric(
            "false_escalation_rate",
            "ratio",
            ids,
            ratio_rows(
                [(not w) and e for w, e in zip(wants_escalate, routed_escalate, strict=True)],
                [not w for w in wants_escalate],
            ),
            higher_is_better=False,
        ),
        ctx.metric(
            "confidence_ece",
            "ece",
            [r.item.id for r in singles],
            ece_rows(confidences, correct),
            higher_is_better=False,
            note="top-intent confidence vs correct, single-intent items, 10 bins",
        ),
        ctx.metric(
            "latency_ms",
            "ratio",
            ids,
            mean_rows(latencies),
            higher_is_better=False,
            unit="ms",
            note=f"classifier only; p50 {np.percentile(latencies, 50):.1f} ms, "
            f"p95 {np.percentile(latencies, 95):.1f} ms",
        ),
    ]
    per_intent = TableData(
        title="Per intent (all items)",
        columns=["intent", "precision", "recall", "F1", "support"],
        rows=[
            [intent, f"{p:.3f}", f"{r:.3f}", f"{f:.3f}", str(n)]
            for intent, (p, r, f, n) in report.per_intent.items()
        ],
    )
    bands = TableData(
        title="Confidence bands (single-intent items)",
        columns=["band", "items", "accuracy"],
        rows=[[name, str(n), f"{acc:.3f}"] for name, n, acc in report.bands],
    )
    return SuiteResult(
        name="routing",
        title="Routing (embedding classifier)",
        agent="supervisor",
        datasets=[ref],
        metrics=metrics,
        confusion=[
            ConfusionData(
                name="router",
                labels=list(INTENTS),
                predicted_labels=list(INTENTS),
                matrix=report.confusion.tolist(),
            )
        ],
        reliability=[
            ReliabilityData(
                name="router",
                confidences=confidences,
                outcomes=correct,
                meaning="top intent is the gold intent",
            )
        ],
        tables=[per_intent, bands],
        notes=[
            f"Router: {getattr(ctx.embedder, 'variant', 'MiniLM')} MiniLM embedding classifier."
        ],
    )


SUITE = Suite(
    name="routing", title="Routing (embedding classifier)", agent="supervisor", run=run, order=10
)
