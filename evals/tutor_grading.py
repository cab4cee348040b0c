"""Score the tutor's free-text grader (rubric keywords + MiniLM) on labelled learner answers.

    .venv/bin/python -m evals.tutor_grading

`evals/data/tutor_grading.jsonl` holds answers to real short questions of the bank, each
labelled correct or not by hand: paraphrases, answers in other words (synonyms), partial and
wrong answers. The thresholds in `tools/tutor/grading.py` were set by hand before this set
existed; it is small, so read the numbers as a sanity check, not a calibration.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table

from tools.tutor.bank import Bank, load_bank
from tools.tutor.grading import Grader
from tools.tutor.wire import GradeResult

DATA = Path(__file__).parent / "data" / "tutor_grading.jsonl"


@dataclass(frozen=True)
class GradingItem:
    """One labelled learner answer."""

    id: str
    question_id: str
    answer: str
    correct: bool
    kind: str


@dataclass(frozen=True)
class GradingReport:
    """Agreement of the grader with the labels, and the items it got wrong."""

    items: list[tuple[GradingItem, GradeResult]]

    @property
    def accuracy(self) -> float:
        """Share of items whose verdict matches the label."""
        return sum(i.correct == g.correct for i, g in self.items) / len(self.items)

    @property
    def false_passes(self) -> list[tuple[GradingItem, GradeResult]]:
        """Wrong or partial answers graded correct (the costly error for a tutor)."""
        return [(i, g) for i, g in self.items if g.correct and not i.correct]

    @property
    def false_fails(self) -> list[tuple[GradingItem, GradeResult]]:
        """Right answers graded wrong."""
        return [(i, g) for i, g in self.items if i.correct and not g.correct]


def load_items(path: Path = DATA) -> list[GradingItem]:
    """The labelled answers."""
    return [GradingItem(**json.loads(line)) for line in path.read_text("utf-8").splitlines()]


def evaluate(grader: Grader, bank: Bank, items: Sequence[GradingItem]) -> GradingReport:
    """Grade every item with the rubric grader."""
    return GradingReport(
        [(i, grader.rubric(bank.question(i.question_id), i.answer)) for i in items]
    )


def render(report: GradingReport, console: Console) -> None:
    """Print the agreement table and the disagreements."""
    table = Table(title=f"Free-text grading vs labels: accuracy {report.accuracy:.3f}")
    for column in ("kind", "items", "labelled right", "graded right", "agree"):
        table.add_column(column, justify="left" if column == "kind" else "right")
    for kind in sorted({i.kind for i, _ in report.items}):
        rows = [(i, g) for i, g in report.items if i.kind == kind]
        table.add_row(
            kind,
            str(len(rows)),
            str(sum(i.correct for i, _ in rows)),
            str(sum(g.correct for _, g in rows)),
            str(sum(i.correct == g.correct for i, g in rows)),
        )
    console.print(table)
    wrong = Table(title="Disagreements")
    for column in ("id", "label", "score", "keywords", "cosine", "answer"):
        wrong.add_column(column)
    for item, grade in report.false_passes + report.false_fails:
        keywords = len(grade.matched_keywords) + len(grade.missing_keywords)
        wrong.add_row(
            item.id,
            "right" if item.correct else "wrong",
            f"{grade.score:.2f}",
            f"{len(grade.matched_keywords)}/{keywords}",
            f"{grade.similarity:.2f}" if grade.similarity is not None else "",
            item.answer[:70],
        )
    console.print(wrong)


def main() -> None:
    """Grade the labelled set with the real MiniLM embedder and print the report."""
    from tools.models.embedder import MiniLMEmbedder

    embedder = MiniLMEmbedder.load("cpu")
    report = evaluate(Grader(embedder.embed), load_bank(), load_items())
    render(report, Console())


if __name__ == "__main__":
    main()
