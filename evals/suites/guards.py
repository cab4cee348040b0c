"""Guards suite: the deployed input guard on the held-out split of the injection set.

Every `test` row of `injection.jsonl` (templates never seen in training or calibration) goes
through the input guard as a user message. A row is stopped when the guard blocks or escalates
it. Block rate is over attacks, false-positive rate over benign texts; the two layers
(patterns, learned classifier at its calibrated threshold) are also scored alone, and the
classifier's P(attack) gets a reliability diagram and its ECE.
"""

from __future__ import annotations

import time
from collections import defaultdict
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from evals.datasets import load_jsonl
from evals.harness import EvalContext, Suite
from evals.results import ReliabilityData, SuiteResult, TableData
from evals.stats import ece_rows, mean_rows, ratio_rows
from state.schema import PhiVault
from tools.guards.injection_patterns import InjectionPatterns


class InjectionRow(BaseModel):
    """One labelled text of the injection set."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    text: str = Field(min_length=1)
    label: Literal["attack", "benign"]
    family: str
    source: Literal["direct", "document", "tool"]
    template: str
    split: Literal["train", "test"]


def run(ctx: EvalContext) -> SuiteResult:
    """Check every held-out row with the deployed input guard and each layer alone."""
    ref, rows = load_jsonl("injection", InjectionRow)
    test = [r for r in rows if r.split == "test"]
    guards = ctx.guards
    patterns = InjectionPatterns()
    stopped, by_pattern, probabilities, latencies = [], [], [], []
    for row in test:
        started = time.perf_counter()
        verdict = guards.input.check(row.text, PhiVault())
        latencies.append((time.perf_counter() - started) * 1000)
        stopped.append(verdict.action != "pass")
        by_pattern.append(patterns.check(row.text) is not None)
        probabilities.append(guards.classifier.score(ctx.embeddings.message_windows(verdict.text)))
    attack = [r.label == "attack" for r in test]
    benign = [not a for a in attack]
    by_model = [p >= guards.classifier.threshold for p in probabilities]
    ids = [f"{r.template}:{i}" for i, r in enumerate(test)]

    def caught(flags: list[bool]) -> np.ndarray:
        return ratio_rows([f and a for f, a in zip(flags, attack, strict=True)], attack)

    metrics = [
        ctx.metric("block_rate", "ratio", ids, caught(stopped), note="deployed input guard"),
        ctx.metric(
            "false_positive_rate",
            "ratio",
            ids,
            ratio_rows([s and b for s, b in zip(stopped, benign, strict=True)], benign),
            higher_is_better=False,
            note="benign texts blocked or escalated",
        ),
        ctx.metric("pattern_block_rate", "ratio", ids, caught(by_pattern), note="patterns alone"),
        ctx.metric(
            "classifier_block_rate",
            "ratio",
            ids,
            caught(by_model),
            note=f"classifier alone, threshold {guards.classifier.threshold:.3f}",
        ),
        ctx.metric(
            "classifier_ece",
            "ece",
            ids,
            ece_rows(probabilities, attack),
            higher_is_better=False,
            note="P(attack) vs label, 10 bins",
        ),
        ctx.metric(
            "latency_ms",
            "ratio",
            ids,
            mean_rows(latencies),
            higher_is_better=False,
            unit="ms",
            note=f"input guard per message; p50 {np.percentile(latencies, 50):.1f} ms, "
            f"p95 {np.percentile(latencies, 95):.1f} ms",
        ),
    ]
    families: dict[str, list[bool]] = defaultdict(list)
    for row, s in zip(test, stopped, strict=True):
        families[f"{row.label}/{row.family}/{row.source}"].append(s)
    table = TableData(
        title="Stopped by the input guard, per family (held-out split)",
        columns=["label/family/source", "texts", "stopped"],
        rows=[[k, str(len(v)), f"{np.mean(v):.3f}"] for k, v in sorted(families.items())],
    )
    return SuiteResult(
        name="guards",
        title="Guards (prompt injection, held-out split)",
        agent="guards",
        datasets=[ref],
        metrics=metrics,
        reliability=[
            ReliabilityData(
                name="injection classifier",
                confidences=probabilities,
                outcomes=attack,
                meaning="the text is an attack",
            )
        ],
        tables=[table],
        notes=[
            f"{sum(attack)} attacks and {sum(benign)} benign texts from templates held out of "
            "training; the classifier was fitted on the train split only."
        ],
    )


SUITE = Suite(
    name="guards",
    title="Guards (prompt injection, held-out split)",
    agent="guards",
    run=run,
    order=20,
)
