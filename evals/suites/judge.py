"""Judge calibration: agreement of the run's judge with human scores, and its pairwise behaviour.

The set (`judge_calibration.jsonl`) groups answers of mixed quality to the same question under
one rubric, each scored 1-5 by a person. Metrics: Spearman ρ between judge and human scores
(overall and per rubric); pairwise agreement (within a group, for answers the person scored
differently, the judge's consistent winner is the person's better answer); and pairwise
consistency (the preference survives swapping the order). The judge is flagged unreliable when
the overall ρ is below 0.6, and every judge-scored metric of the run carries that flag.
"""

from __future__ import annotations

import asyncio
import itertools

from pydantic import BaseModel, ConfigDict, Field

from evals.datasets import load_jsonl
from evals.harness import EvalContext, Suite
from evals.judge import JudgeCase, prefer_all, score_all
from evals.results import SuiteResult, TableData
from evals.stats import mean_rows, spearman
from state.errors import ConfigError

RELIABLE_RHO = 0.6


class CalibrationItem(BaseModel):
    """One human-scored answer."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1)
    group: str = Field(min_length=1)
    rubric: str
    question: str = Field(min_length=1)
    sources: list[str] = Field(default_factory=list)
    reference: str = ""
    answer: str
    human: int = Field(ge=1, le=5)


def _case(item: CalibrationItem) -> JudgeCase:
    return JudgeCase(
        item_id=item.id,
        question=item.question,
        answer=item.answer,
        sources=item.sources,
        reference=item.reference,
    )


def run(ctx: EvalContext) -> SuiteResult:
    """Score every item, correlate with the human scores, and compare answers pairwise."""
    ref, items = load_jsonl("judge_calibration", CalibrationItem)
    unknown = {i.rubric for i in items} - set(ctx.rubrics)
    if unknown:
        raise ConfigError(f"judge_calibration.jsonl names unknown rubrics {sorted(unknown)}")
    by_rubric = {name: [i for i in items if i.rubric == name] for name in ctx.rubrics}

    async def judge_everything() -> tuple[list, list]:
        verdicts, preferences = [], []
        for name, group in by_rubric.items():
            rubric = ctx.rubrics[name]
            verdicts += await score_all(ctx.judge, [_case(i) for i in group], rubric)
            pairs = [
                (a, b)
                for _, members in itertools.groupby(
                    sorted(group, key=lambda i: i.group), key=lambda i: i.group
                )
                for a, b in itertools.combinations(list(members), 2)
                if a.human != b.human
            ]
            found = await prefer_all(ctx.judge, [(_case(a), _case(b)) for a, b in pairs], rubric)
            preferences += [(a, b, p) for (a, b), p in zip(pairs, found, strict=True)]
        return verdicts, preferences

    verdicts, preferences = asyncio.run(judge_everything())
    human = {i.id: i.human for i in items}
    scored = [v for v in verdicts if v.score is not None]
    rows = [[v.score, human[v.item_id]] for v in scored]
    metrics = [ctx.metric("spearman_rho", "spearman", [v.item_id for v in scored], rows)]
    table = []
    for name in ctx.rubrics:
        mine = [v for v in scored if v.item_id in {i.id for i in by_rubric[name]}]
        if len(mine) < 3:
            continue
        metric = ctx.metric(
            f"spearman_rho_{name}",
            "spearman",
            [v.item_id for v in mine],
            [[v.score, human[v.item_id]] for v in mine],
        )
        metrics.append(metric)
        table.append([name, str(len(mine)), f"{metric.value:.3f}" if metric.defined else "n/a"])
    ids = [f"{a.id}|{b.id}" for a, b, _ in preferences]
    agree = [
        p.consistent and p.winner == ("a" if a.human > b.human else "b") for a, b, p in preferences
    ]
    metrics.append(ctx.metric("pairwise_agreement", "ratio", ids, mean_rows(agree)))
    metrics.append(
        ctx.metric(
            "pairwise_consistency", "ratio", ids, mean_rows(p.consistent for *_, p in preferences)
        )
    )
    metrics += ctx.judge_metrics("judge_score", verdicts)[1:]
    rho = spearman([r[0] for r in rows], [r[1] for r in rows])
    ctx.judge_reliability = (rho, bool(rho >= RELIABLE_RHO))
    verdict = "reliable" if rho >= RELIABLE_RHO else "UNRELIABLE (below 0.6)"
    return SuiteResult(
        name="judge",
        title="Judge calibration",
        agent="judge",
        datasets=[ref],
        metrics=metrics,
        tables=[
            TableData(title="Spearman rho per rubric", columns=["rubric", "n", "rho"], rows=table)
        ],
        notes=[
            f"Judge: {ctx.judge.label}.",
            f"Spearman rho with {len(rows)} human scores: {rho:.3f}: the judge is {verdict}.",
        ],
    )


SUITE = Suite(name="judge", title="Judge calibration", agent="judge", run=run, order=0)
