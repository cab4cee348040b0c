"""Compare two eval runs: paired metric differences with CIs and p-values, and pairwise judging.

Metrics are paired on the items both runs scored (matched by item id). Free-text answers kept
by both runs are compared by the judge in both orders; only consistent preferences are wins.

Usage:
    diffs = compare_runs(current, previous, n_boot=2000, seed=0)
    summary = asyncio.run(pairwise_outputs(judge, rubrics["relevance"], current, previous))
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from evals.judge import Judge, JudgeCase, prefer_all
from evals.results import ItemOutput, RunResult
from evals.rubric import Rubric
from evals.stats import paired_compare


@dataclass(frozen=True)
class MetricComparison:
    """Current minus previous on the shared items of one metric."""

    suite: str
    metric: str
    current: float
    previous: float
    diff: float
    low: float
    high: float
    p_value: float
    n: int
    higher_is_better: bool

    @property
    def verdict(self) -> str:
        """`better`, `worse` or `no significant change` (interval excludes zero or not)."""
        if not (np.isfinite(self.low) and np.isfinite(self.high)) or self.low <= 0 <= self.high:
            return "no significant change"
        improved = (self.diff > 0) == self.higher_is_better
        return "better" if improved else "worse"


def compare_runs(
    current: RunResult, previous: RunResult, *, n_boot: int, seed: int
) -> list[MetricComparison]:
    """Every metric both runs have, paired on their common items."""
    out: list[MetricComparison] = []
    for suite in current.suites:
        before = previous.suite(suite.name)
        if before is None:
            continue
        for metric in suite.metrics:
            old = before.metric(metric.name)
            if old is None or old.kind != metric.kind or not metric.rows or not old.rows:
                continue
            position = {item: i for i, item in enumerate(old.item_ids)}
            shared = [
                (i, position[item]) for i, item in enumerate(metric.item_ids) if item in position
            ]
            if not shared or len(metric.rows[0]) != len(old.rows[0]):
                continue
            rows_now = np.asarray([metric.rows[i] for i, _ in shared])
            rows_then = np.asarray([old.rows[j] for _, j in shared])
            result = paired_compare(metric.kind, rows_now, rows_then, n_boot=n_boot, seed=seed)
            counted = len(shared)
            if metric.kind == "ratio":
                counted = int(np.count_nonzero((rows_now[:, 1] != 0) | (rows_then[:, 1] != 0)))
            out.append(
                MetricComparison(
                    suite=suite.name,
                    metric=metric.name,
                    current=result.value_a,
                    previous=result.value_b,
                    diff=result.diff,
                    low=result.low,
                    high=result.high,
                    p_value=result.p_value,
                    n=counted,
                    higher_is_better=metric.higher_is_better,
                )
            )
    return out


@dataclass(frozen=True)
class PairwiseSummary:
    """How one suite's answers fared against the previous run's, judged pairwise."""

    suite: str
    rubric: str
    judge: str
    current_wins: int
    previous_wins: int
    ties: int
    inconsistent: int
    identical: int
    errors: int


def _case(output: ItemOutput) -> JudgeCase:
    return JudgeCase(
        item_id=output.item_id,
        question=output.question,
        answer=output.answer,
        sources=output.sources,
        reference=output.reference,
    )


async def pairwise_outputs(
    judge: Judge, rubric: Rubric, current: RunResult, previous: RunResult
) -> list[PairwiseSummary]:
    """Per suite with answers in both runs: consistent wins each way, ties and inconsistencies."""
    summaries: list[PairwiseSummary] = []
    for suite in current.suites:
        before = previous.suite(suite.name)
        if before is None or not suite.outputs or not before.outputs:
            continue
        old = {o.item_id: o for o in before.outputs}
        common = [(o, old[o.item_id]) for o in suite.outputs if o.item_id in old]
        differing = [(a, b) for a, b in common if a.answer != b.answer]
        found = await prefer_all(judge, [(_case(a), _case(b)) for a, b in differing], rubric)
        consistent = [p for p in found if p.consistent and p.error is None]
        summaries.append(
            PairwiseSummary(
                suite=suite.name,
                rubric=rubric.name,
                judge=judge.label,
                current_wins=sum(p.winner == "a" for p in consistent),
                previous_wins=sum(p.winner == "b" for p in consistent),
                ties=sum(p.winner == "tie" for p in consistent),
                inconsistent=sum(not p.consistent and p.error is None for p in found),
                identical=len(common) - len(differing),
                errors=sum(p.error is not None for p in found),
            )
        )
    return summaries
