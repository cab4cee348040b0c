"""The learner's progress: a table of concepts and a PNG of mastery per concept over time.

Usage:
    report = progress_report(model, store, ProgressInput(user_id="u1"), data_dir / "tutor")
    report.rows[0].mastery, report.plot_path
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

from tools.tutor.bank import Bank
from tools.tutor.learner import (
    MASTERED,
    PREREQUISITE_PASS,
    AnswerEvent,
    LearnerModel,
    LearnerState,
    mastery_history,
)
from tools.tutor.learner_store import LearnerStore
from tools.tutor.selection import WEAK
from tools.tutor.wire import ProgressInput, ProgressReport, ProgressRow

STATUS_ORDER = ("mastered", "passed", "learning", "weak", "not started", "locked")


def progress_rows(model: LearnerModel, state: LearnerState) -> list[ProgressRow]:
    """One row per concept in curriculum order, with mastery, attempts and a status."""
    rows: list[ProgressRow] = []
    for concept in model.bank.concepts:
        known = state.concepts.get(concept.id)
        attempts = known.attempts if known else 0
        mastery = model.mastery(state, concept.id)
        if attempts == 0:
            status = "not started" if model.unlocked(state, concept.id) else "locked"
        elif mastery >= MASTERED:
            status = "mastered"
        elif mastery >= PREREQUISITE_PASS:
            status = "passed"
        elif mastery >= WEAK:
            status = "learning"
        else:
            status = "weak"
        rows.append(
            ProgressRow(
                concept_id=concept.id,
                title=concept.title,
                topic=concept.topic,
                mastery=round(mastery, 3),
                attempts=attempts,
                correct=known.correct if known else 0,
                status=status,
            )
        )
    return rows


def plot_filename(tenant_id: str, user_id: str) -> str:
    """A file name for a learner's plot that does not expose the user id."""
    digest = hashlib.sha256(f"{tenant_id}\x00{user_id}".encode()).hexdigest()[:16]
    return f"mastery-{digest}.png"


def plot_mastery(bank: Bank, events: Sequence[AnswerEvent], path: Path) -> Path:
    """Draw mastery after each counted answer, one line per practised concept; write a PNG."""
    # matplotlib is heavy and only the progress report needs it, so it is imported here.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    history = mastery_history(events)
    figure = Figure(figsize=(9, 5), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    for concept_id, points in history.items():
        xs, ys = zip(*points, strict=True)
        axes.plot(xs, ys, marker="o", markersize=3, label=bank.concept(concept_id).title)
    axes.axhline(PREREQUISITE_PASS, color="grey", linestyle="--", linewidth=0.8)
    axes.axhline(MASTERED, color="green", linestyle=":", linewidth=0.8)
    axes.set_ylim(0, 1)
    axes.set_xlabel("answer number")
    axes.set_ylabel("P(known)")
    axes.set_title("Mastery per concept over time")
    if history:
        axes.legend(fontsize="small", loc="center left", bbox_to_anchor=(1.0, 0.5))
    else:
        axes.text(0.5, 0.5, "no answers yet", ha="center", transform=axes.transAxes)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
    return path


def progress_report(
    model: LearnerModel, store: LearnerStore, args: ProgressInput, plot_dir: Path
) -> ProgressReport:
    """The learner's table of concepts, totals, diagnostic status and mastery plot."""
    state = store.load(args.tenant_id, args.user_id) or LearnerState(
        tenant_id=args.tenant_id, user_id=args.user_id
    )
    events = store.events(args.tenant_id, args.user_id)
    counted = [e for e in events if e.counted]
    diagnostic = state.diagnostic
    if diagnostic is None:
        status = "not taken"
    elif diagnostic.finished:
        status = "finished"
    else:
        status = f"{diagnostic.done} of {len(diagnostic.plan)} items answered"
    plot_path = None
    if args.plot and counted:
        target = plot_dir / plot_filename(args.tenant_id, args.user_id)
        plot_path = str(plot_mastery(model.bank, events, target))
    return ProgressReport(
        rows=progress_rows(model, state),
        answered=len(counted),
        correct=sum(e.correct for e in counted),
        diagnostic=status,
        plot_path=plot_path,
    )
