"""Routing eval: load the labelled utterances, run a router, score macro-F1, safety and bands.

Scoring (documented here because multi-intent messages need a rule):
- Every item contributes a gold set and a predicted set of intents. For a single-intent item
  the predicted set is the router's top intent; for a multi-intent item it is the set of intents
  of the predicted segments. Each intent in both sets is a true positive for that intent, each
  gold-only intent a false negative, each predicted-only intent a false positive. Macro-F1 is
  the unweighted mean of the six per-intent F1 scores.
- Exact-set accuracy (predicted segment intents == gold intents, as sets) is reported over all
  items, so a single-intent message wrongly fanned out counts against it; multi-intent items
  also report order accuracy (the segment intents in the gold order).
- The 6x6 confusion matrix covers single-intent items (gold against top intent).
- Escalate recall: items whose gold includes `escalate` that were routed to `escalate`.
  False-escalation rate: items without `escalate` in gold that were routed there.
- Confidence bands (>= 0.85, 0.65-0.85, < 0.65) show what the supervisor's thresholds would do.

Run: `python -m evals.routing` (real MiniLM, int8 + traced; `--fp32` for the reference).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Protocol

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from rich.console import Console
from rich.table import Table

from state.errors import ConfigError
from state.schema import INTENTS, Intent
from tools.routing.intent_classifier import IntentPrediction

BANDS: tuple[tuple[str, float, float], ...] = (
    (">= 0.85", 0.85, 1.01),
    ("0.65-0.85", 0.65, 0.85),
    ("< 0.65", 0.0, 0.65),
)


class RoutingItem(BaseModel):
    """One labelled utterance: its text and the intents it asks for, in order."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1)
    text: str = Field(min_length=1)
    intents: list[Intent] = Field(min_length=1)

    @field_validator("intents")
    @classmethod
    def _distinct_and_escalate_alone(cls, intents: list[Intent]) -> list[Intent]:
        if len(set(intents)) != len(intents):
            raise ValueError("intents must not repeat")
        if "escalate" in intents and len(intents) > 1:
            raise ValueError("escalate never shares a message with another route")
        return intents


class Router(Protocol):
    """Anything that classifies one message the way `IntentClassifier` does."""

    def classify(self, text: str) -> IntentPrediction: ...


def load_routing_set(path: Path | None = None) -> list[RoutingItem]:
    """Read and validate `evals/data/routing.jsonl` (or `path`); ids must be unique."""
    if path is None:
        raw = resources.files("evals").joinpath("data/routing.jsonl").read_text("utf-8")
    else:
        raw = path.read_text("utf-8")
    items: list[RoutingItem] = []
    for number, line in enumerate(raw.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            items.append(RoutingItem.model_validate_json(line))
        except ValidationError as exc:
            raise ConfigError(f"routing.jsonl line {number}: {exc}") from exc
    ids = [i.id for i in items]
    if len(set(ids)) != len(ids):
        raise ConfigError("routing.jsonl has duplicate ids")
    return items


@dataclass(frozen=True)
class ItemResult:
    """What the router said about one item."""

    item: RoutingItem
    prediction: IntentPrediction

    @property
    def segment_intents(self) -> list[str]:
        """Distinct segment intents in the order they appear."""
        return list(dict.fromkeys(s.intent for s in self.prediction.segments))

    @property
    def predicted_set(self) -> set[str]:
        """Top intent for single-intent items, segment intents for multi-intent items."""
        if len(self.item.intents) == 1:
            return {self.prediction.intent}
        return set(self.segment_intents)


@dataclass(frozen=True)
class RoutingReport:
    """Every metric of one eval run."""

    results: list[ItemResult]
    per_intent: dict[str, tuple[float, float, float, int]]  # precision, recall, f1, support
    macro_f1: float
    confusion: np.ndarray  # [gold, predicted] over single-intent items, INTENTS order
    escalate_recall: float
    false_escalation_rate: float
    false_escalations: list[ItemResult]
    exact_set_accuracy: float
    multi_exact_set_accuracy: float
    multi_order_accuracy: float
    bands: list[tuple[str, int, float]]  # band, items, accuracy (single-intent items)


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator else 0.0


def score(results: Sequence[ItemResult]) -> RoutingReport:
    """Compute the report from router outputs (see the module docstring for the rules)."""
    tp = dict.fromkeys(INTENTS, 0)
    fp = dict.fromkeys(INTENTS, 0)
    fn = dict.fromkeys(INTENTS, 0)
    confusion = np.zeros((len(INTENTS), len(INTENTS)), dtype=np.int64)
    for r in results:
        gold, predicted = set(r.item.intents), r.predicted_set
        for intent in gold & predicted:
            tp[intent] += 1
        for intent in gold - predicted:
            fn[intent] += 1
        for intent in predicted - gold:
            fp[intent] += 1
        if len(r.item.intents) == 1:
            row = INTENTS.index(r.item.intents[0])
            confusion[row, INTENTS.index(r.prediction.intent)] += 1
    per_intent: dict[str, tuple[float, float, float, int]] = {}
    for intent in INTENTS:
        precision = _ratio(tp[intent], tp[intent] + fp[intent])
        recall = _ratio(tp[intent], tp[intent] + fn[intent])
        f1 = _ratio(2 * precision * recall, precision + recall)
        per_intent[intent] = (precision, recall, f1, tp[intent] + fn[intent])
    escalating = [r for r in results if "escalate" in r.item.intents]
    others = [r for r in results if "escalate" not in r.item.intents]
    false_escalations = [r for r in others if r.prediction.intent == "escalate"]
    multi = [r for r in results if len(r.item.intents) > 1]
    singles = [r for r in results if len(r.item.intents) == 1]
    bands = []
    for name, low, high in BANDS:
        inside = [r for r in singles if low <= r.prediction.confidence < high]
        correct = sum(r.prediction.intent == r.item.intents[0] for r in inside)
        bands.append((name, len(inside), _ratio(correct, len(inside))))
    return RoutingReport(
        results=list(results),
        per_intent=per_intent,
        macro_f1=float(np.mean([v[2] for v in per_intent.values()])),
        confusion=confusion,
        escalate_recall=_ratio(
            sum(r.prediction.intent == "escalate" for r in escalating), len(escalating)
        ),
        false_escalation_rate=_ratio(len(false_escalations), len(others)),
        false_escalations=false_escalations,
        exact_set_accuracy=_ratio(
            sum(set(r.segment_intents) == set(r.item.intents) for r in results), len(results)
        ),
        multi_exact_set_accuracy=_ratio(
            sum(set(r.segment_intents) == set(r.item.intents) for r in multi), len(multi)
        ),
        multi_order_accuracy=_ratio(
            sum(r.segment_intents == list(r.item.intents) for r in multi), len(multi)
        ),
        bands=bands,
    )


def evaluate(router: Router, items: Sequence[RoutingItem]) -> RoutingReport:
    """Classify every item and score the run."""
    return score([ItemResult(item, router.classify(item.text)) for item in items])


def render(report: RoutingReport, console: Console, title: str = "Routing eval") -> None:
    """Print the per-intent table, the confusion matrix, safety numbers and errors."""
    table = Table(title=f"{title}: macro-F1 {report.macro_f1:.3f}")
    for column in ("intent", "precision", "recall", "F1", "support"):
        table.add_column(column, justify="right" if column != "intent" else "left")
    for intent, (precision, recall, f1, support) in report.per_intent.items():
        table.add_row(intent, f"{precision:.3f}", f"{recall:.3f}", f"{f1:.3f}", str(support))
    console.print(table)
    matrix = Table(title="Confusion (single-intent items; rows gold, columns predicted)")
    matrix.add_column("gold \\ pred")
    for intent in INTENTS:
        matrix.add_column(intent[:5], justify="right")
    for intent, row in zip(INTENTS, report.confusion, strict=True):
        matrix.add_row(intent, *(str(int(v)) for v in row))
    console.print(matrix)
    summary = Table(title="Safety, fan-out and confidence bands")
    summary.add_column("measure")
    summary.add_column("value", justify="right")
    summary.add_row("escalate recall", f"{report.escalate_recall:.3f}")
    summary.add_row("false-escalation rate", f"{report.false_escalation_rate:.3f}")
    summary.add_row("exact-set accuracy (all items)", f"{report.exact_set_accuracy:.3f}")
    summary.add_row("multi-intent exact-set accuracy", f"{report.multi_exact_set_accuracy:.3f}")
    summary.add_row("multi-intent order accuracy", f"{report.multi_order_accuracy:.3f}")
    for name, count, accuracy in report.bands:
        summary.add_row(f"confidence {name}: items / accuracy", f"{count} / {accuracy:.3f}")
    console.print(summary)
    wrong = [
        r
        for r in report.results
        if r.predicted_set != set(r.item.intents) or set(r.segment_intents) != set(r.item.intents)
    ]
    if wrong:
        errors = Table(title=f"Items not exactly right ({len(wrong)})")
        for column in ("id", "gold", "predicted segments", "conf", "text"):
            errors.add_column(column, overflow="fold")
        for r in wrong:
            errors.add_row(
                r.item.id,
                ",".join(r.item.intents),
                ",".join(r.segment_intents),
                f"{r.prediction.confidence:.2f}",
                r.item.text,
            )
        console.print(errors)


def main(argv: Sequence[str] | None = None) -> None:
    """Run the eval with the real MiniLM embedder and print the report."""
    from tools.models.embedder import MiniLMEmbedder
    from tools.routing.intent_classifier import IntentClassifier

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fp32", action="store_true", help="unquantised, untraced reference")
    args = parser.parse_args(argv)
    embedder = MiniLMEmbedder.load("cpu", quantize=not args.fp32, trace=not args.fp32)
    report = evaluate(IntentClassifier.from_default(embedder), load_routing_set())
    render(report, Console(), title=f"Routing eval ({embedder.variant})")


if __name__ == "__main__":
    main()
