"""Run eval suites: the shared context (models, guards, judge), metric building, the run record.

A suite is a `Suite` (name, title, agent, `run(ctx) -> SuiteResult`). The context loads what
suites share once per run: the MiniLM embedder, the guard set (whose guarded embedding memo
the router and the offline judge reuse), the intent classifier, the judge and rubrics. Other
resources are memoised per run with `ctx.shared(name, factory)`.

Usage:
    ctx = EvalContext(EvalConfig(workdir=tmp, guard=guard_config), load_embedder, make_judge)
    with ctx:
        run = run_suites([suites["routing"]], ctx)
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import time
import traceback
import uuid
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

import numpy as np
import torch

from evals.judge import Judge, JudgeCase, Verdict, score_all
from evals.results import JudgeInfo, MetricResult, RunResult, SuiteResult
from evals.rubric import Rubric, load_rubrics
from evals.stats import StatisticKind, bootstrap_ci
from state.errors import MedGraphError
from tools.guards.assembly import GuardConfig, GuardSet, build_guard_set
from tools.guards.shared_embeddings import Embedder, SharedEmbeddings
from tools.routing.intent_classifier import IntentClassifier

T = TypeVar("T")


@dataclass(frozen=True)
class EvalConfig:
    """Where a run works and how it computes intervals."""

    workdir: Path
    guard: GuardConfig
    seed: int = 0
    n_boot: int = 2000
    route_direct: float = 0.85
    route_verify: float = 0.65
    route_clinical_margin: float = 0.03


@dataclass(frozen=True)
class Suite:
    """One eval suite. `requires` names modules whose absence skips it (an agent not landed)."""

    name: str
    title: str
    agent: str
    run: Callable[[EvalContext], SuiteResult]
    requires: tuple[str, ...] = ()
    order: int = 50


JudgeFactory = Callable[[SharedEmbeddings, str], Judge]


class EvalContext:
    """What suites share in one run; close it (or use `with`) to release files and stores."""

    def __init__(
        self,
        config: EvalConfig,
        embedder_factory: Callable[[], Embedder],
        judge_factory: JudgeFactory,
    ) -> None:
        self.config = config
        self._embedder_factory = embedder_factory
        self._judge_factory = judge_factory
        self._shared: dict[str, Any] = {}
        self.stack = ExitStack()
        self.judge_reliability: tuple[float, bool] | None = None

    def __enter__(self) -> EvalContext:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stack.close()

    @cached_property
    def embedder(self) -> Embedder:
        """The raw MiniLM embedder (ingestion uses it directly, as `medgraph ingest` does)."""
        return self._embedder_factory()

    @property
    def embedder_id(self) -> str:
        """The embedder's variant, as the guards key their cached classifier fit."""
        return f"minilm-{getattr(self.embedder, 'variant', 'unknown')}"

    @cached_property
    def guards(self) -> GuardSet:
        """The deployed guard set (the injection classifier's fit is cached)."""
        return build_guard_set(self.embedder, self.config.guard, embedder_id=self.embedder_id)

    @property
    def embeddings(self) -> SharedEmbeddings:
        """The guarded, memoised embeddings every query-time component shares."""
        return self.guards.embeddings

    @cached_property
    def classifier(self) -> IntentClassifier:
        """The router's embedding classifier over the shared embeddings."""
        return IntentClassifier.from_default(self.embeddings)

    @cached_property
    def judge(self) -> Judge:
        """The run's judge (an LLM judge when one is configured, else the offline judge)."""
        return self._judge_factory(self.embeddings, self.embedder_id)

    @cached_property
    def rubrics(self) -> dict[str, Rubric]:
        """Every rubric in `evals/rubrics/`."""
        return load_rubrics()

    def shared(self, name: str, factory: Callable[[], T]) -> T:
        """A resource built once per run (e.g. an ingested store several suites read)."""
        if name not in self._shared:
            self._shared[name] = factory()
        return self._shared[name]

    def metric(
        self,
        name: str,
        kind: StatisticKind,
        item_ids: Sequence[str],
        rows: np.ndarray,
        *,
        higher_is_better: bool = True,
        unit: str = "",
        note: str = "",
    ) -> MetricResult:
        """A metric with its bootstrap interval, keeping the per-item rows for comparisons."""
        rows = np.asarray(rows, dtype=np.float64)
        interval = bootstrap_ci(kind, rows, n_boot=self.config.n_boot, seed=self.config.seed)
        weight = rows[:, 1] if kind == "ratio" else np.ones(len(rows))
        return MetricResult(
            name=name,
            value=_finite(interval.value),
            low=_finite(interval.low),
            high=_finite(interval.high),
            n=int(np.count_nonzero(weight)),
            kind=kind,
            higher_is_better=higher_is_better,
            unit=unit,
            note=note,
            item_ids=list(item_ids),
            rows=rows.tolist(),
        )

    def judged(self, cases: Sequence[JudgeCase], rubric: str) -> list[Verdict]:
        """Score cases with the run's judge under one rubric."""
        return asyncio.run(score_all(self.judge, cases, self.rubrics[rubric]))

    def judge_metrics(self, name: str, verdicts: Sequence[Verdict]) -> list[MetricResult]:
        """The mean judge score (failed verdicts left out) and the count of failed verdicts.

        Failures are their own metric (threshold 0), so a broken endpoint fails the run
        instead of lowering a mean.
        """
        scored = [v for v in verdicts if v.score is not None]
        methods = sorted({v.method for v in scored})
        note = f"{self.judge.label}; method {','.join(methods) or 'none'}"
        if self.judge_reliability is not None:
            rho, reliable = self.judge_reliability
            note += f"; calibration rho {rho:.2f}" + ("" if reliable else " (UNRELIABLE)")
        mean = self.metric(
            name,
            "ratio",
            [v.item_id for v in verdicts],
            [[v.score, 1.0] if v.score is not None else [0.0, 0.0] for v in verdicts],
            note=note,
        )
        errors = self.metric(
            f"{name}_errors",
            "ratio",
            [v.item_id for v in verdicts],
            [[float(v.error is not None), 1.0] for v in verdicts],
            higher_is_better=False,
            note="; ".join(sorted({v.error for v in verdicts if v.error})[:3]),
        )
        return [mean, errors]

    def judge_info(self) -> JudgeInfo:
        """The judge's label and calibration, for the run record (`unused` if never built)."""
        if "judge" not in self.__dict__:
            return JudgeInfo(label="no suite used a judge", kind="unused")
        rho, reliable = self.judge_reliability or (None, None)
        return JudgeInfo(label=self.judge.label, kind=self.judge.kind, rho=rho, reliable=reliable)


def _finite(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None


def missing_requirements(suite: Suite) -> list[str]:
    """The modules a suite requires that are not installed."""
    return [m for m in suite.requires if importlib.util.find_spec(m) is None]


def run_suite(suite: Suite, ctx: EvalContext) -> SuiteResult:
    """Run one suite; a missing requirement skips it, a MedGraph error marks it failed."""
    missing = missing_requirements(suite)
    if missing:
        return SuiteResult(
            name=suite.name,
            title=suite.title,
            agent=suite.agent,
            status="skipped",
            reason=f"not installed: {', '.join(missing)}",
        )
    started = time.perf_counter()
    try:
        result = suite.run(ctx)
    except MedGraphError as exc:
        return SuiteResult(
            name=suite.name,
            title=suite.title,
            agent=suite.agent,
            status="error",
            reason=f"{exc.__class__.__name__}: {exc}",
            notes=traceback.format_exception_only(exc),
            seconds=time.perf_counter() - started,
        )
    return result.model_copy(update={"seconds": time.perf_counter() - started})


def run_suites(
    suites: Sequence[Suite], ctx: EvalContext, *, progress: Callable[[str], None] | None = None
) -> RunResult:
    """Run suites in their order (the judge's calibration first) and record the run."""
    started_at = datetime.now(UTC)
    started = time.perf_counter()
    results = []
    for suite in sorted(suites, key=lambda s: (s.order, s.name)):
        if progress is not None:
            progress(suite.name)
        results.append(run_suite(suite, ctx))
    return RunResult(
        run_id=f"{started_at:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:4]}",
        started_at=started_at.isoformat(timespec="seconds"),
        seconds=time.perf_counter() - started,
        seed=ctx.config.seed,
        n_boot=ctx.config.n_boot,
        judge=ctx.judge_info(),
        suites=results,
        machine=machine(),
    )


def machine() -> str:
    """CPU cores, torch threads and GPU, for the report header."""
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return f"{os.cpu_count()} CPU cores, {torch.get_num_threads()} torch threads, {gpu}"
