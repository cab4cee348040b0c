"""Tutor suite: the free-text grader (rubric keywords + MiniLM) against hand-labelled answers.

Grading follows `evals/tutor_grading.py` on `tutor_grading.jsonl`, with the raw MiniLM embedder
the runtime gives the grader. A false pass (a wrong or partial answer graded right) is the
costly error for a tutor, so it has its own bound.
"""

from __future__ import annotations

from evals.datasets import dataset
from evals.harness import EvalContext, Suite
from evals.results import SuiteResult, TableData
from evals.stats import mean_rows, ratio_rows
from evals.tutor_grading import evaluate, load_items
from tools.tutor.bank import load_bank
from tools.tutor.grading import Grader


def run(ctx: EvalContext) -> SuiteResult:
    """Grade every labelled answer and score agreement with the labels."""
    ref, path = dataset("tutor_grading")
    items = load_items(path)
    report = evaluate(Grader(ctx.embedder.embed), load_bank(), items)
    ids = [i.id for i, _ in report.items]
    labelled_right = [i.correct for i, _ in report.items]
    graded_right = [g.correct for _, g in report.items]
    pairs = list(zip(labelled_right, graded_right, strict=True))
    kinds = sorted({i.kind for i in items})
    return SuiteResult(
        name="tutor",
        title="Tutor free-text grading",
        agent="tutor",
        datasets=[ref],
        metrics=[
            ctx.metric(
                "grading_agreement",
                "ratio",
                ids,
                mean_rows(label == graded for label, graded in pairs),
                note="grader verdict equals the hand label",
            ),
            ctx.metric(
                "false_pass_rate",
                "ratio",
                ids,
                ratio_rows(
                    [not label and graded for label, graded in pairs],
                    [not label for label in labelled_right],
                ),
                higher_is_better=False,
                note="wrong or partial answers graded right",
            ),
            ctx.metric(
                "false_fail_rate",
                "ratio",
                ids,
                ratio_rows([label and not graded for label, graded in pairs], labelled_right),
                higher_is_better=False,
                note="right answers graded wrong",
            ),
        ],
        tables=[
            TableData(
                title="Grading by answer kind",
                columns=["kind", "items", "labelled right", "graded right", "agree"],
                rows=[
                    [
                        kind,
                        str(sum(i.kind == kind for i, _ in report.items)),
                        str(sum(i.kind == kind and i.correct for i, _ in report.items)),
                        str(sum(i.kind == kind and g.correct for i, g in report.items)),
                        str(
                            sum(i.kind == kind and i.correct == g.correct for i, g in report.items)
                        ),
                    ]
                    for kind in kinds
                ],
            )
        ],
        notes=[
            "The grader's thresholds were set by hand before this set existed; the set is "
            "small, so the bounds guard against regressions rather than calibrate it.",
        ],
    )


SUITE = Suite(
    name="tutor",
    title="Tutor free-text grading",
    agent="tutor",
    run=run,
    requires=("agents.tutor",),
    order=50,
)
