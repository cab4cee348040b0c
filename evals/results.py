"""The wire shapes of an eval run: metrics with intervals, plots' data, outputs, the run record.

`results.json` of every run is a `RunResult`; `--compare` reads it back, so per-item rows are
kept with each metric (a paired comparison needs them).
"""

from __future__ import annotations

import math
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from evals.stats import StatisticKind

RESULTS_FORMAT = 1


class _Shape(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MetricResult(_Shape):
    """One metric: value, 95% bootstrap interval, and the per-item rows it was computed from."""

    name: str
    value: float | None
    low: float | None
    high: float | None
    n: int = Field(description="items with a non-zero weight in the metric")
    kind: StatisticKind
    higher_is_better: bool = True
    unit: str = ""
    note: str = ""
    item_ids: list[str] = Field(default_factory=list)
    rows: list[list[float]] = Field(default_factory=list)

    @property
    def defined(self) -> bool:
        """Whether the value is a finite number."""
        return self.value is not None and math.isfinite(self.value)


class ConfusionData(_Shape):
    """A confusion matrix: rows gold, columns predicted."""

    name: str
    labels: list[str]
    predicted_labels: list[str]
    matrix: list[list[int]]


class ReliabilityData(_Shape):
    """Predicted probabilities and what happened, for a reliability diagram."""

    name: str
    confidences: list[float]
    outcomes: list[bool]
    meaning: str = Field(description="what a positive outcome is, e.g. 'route correct'")


class TableData(_Shape):
    """An extra table for the report (per-intent scores, per-family block rates, ...)."""

    title: str
    columns: list[str]
    rows: list[list[str]]


class ItemOutput(_Shape):
    """A free-text answer of one item, kept so two runs' answers can be judged pairwise."""

    item_id: str
    question: str
    answer: str
    sources: list[str] = Field(default_factory=list)
    reference: str = ""


class DatasetRef(_Shape):
    """Which dataset version a suite read."""

    name: str
    version: int
    sha256: str
    items: int


class SuiteResult(_Shape):
    """Everything one suite measured."""

    name: str
    title: str
    agent: str
    status: Literal["ok", "skipped", "error"] = "ok"
    reason: str = ""
    datasets: list[DatasetRef] = Field(default_factory=list)
    metrics: list[MetricResult] = Field(default_factory=list)
    confusion: list[ConfusionData] = Field(default_factory=list)
    reliability: list[ReliabilityData] = Field(default_factory=list)
    tables: list[TableData] = Field(default_factory=list)
    outputs: list[ItemOutput] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)
    seconds: float = 0.0

    def metric(self, name: str) -> MetricResult | None:
        """The named metric, if this suite produced it."""
        return next((m for m in self.metrics if m.name == name), None)


class JudgeInfo(_Shape):
    """Which judge scored the free-text metrics, and how far to trust it."""

    label: str
    kind: Literal["llm", "offline", "unused"]
    rho: float | None = None
    reliable: bool | None = None


class RunResult(_Shape):
    """One eval run, as stored in `<data_dir>/evals/runs/<run_id>/results.json`."""

    format: int = RESULTS_FORMAT
    run_id: str
    started_at: str
    seconds: float
    seed: int
    n_boot: int
    judge: JudgeInfo
    suites: list[SuiteResult]
    machine: str = ""

    def suite(self, name: str) -> SuiteResult | None:
        """The named suite's result, if it ran."""
        return next((s for s in self.suites if s.name == name), None)
