"""`medgraph tutor bank|progress|fit`: check the bank, show a learner's progress, refit BKT."""

from __future__ import annotations

from collections import Counter
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from app.settings import get_settings
from state.errors import MedGraphError

tutor_app = typer.Typer(
    help="Check the tutor's bank, show a learner's progress, refit knowledge tracing.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
console = Console()
err_console = Console(stderr=True)


def _fail(exc: MedGraphError) -> typer.Exit:
    err_console.print(f"[bold red]error:[/] {escape(str(exc))}")
    return typer.Exit(exc.exit_code)


@tutor_app.command("bank")
def bank() -> None:
    """Load and validate the curriculum and question bank; print what it holds."""
    from tools.tutor.bank import TOPICS, load_bank

    try:
        loaded = load_bank()
    except MedGraphError as exc:
        raise _fail(exc) from None
    table = Table(title=f"{len(loaded.concepts)} concepts, {len(loaded.questions)} questions")
    for column in ("topic", "concepts", "questions", "mcq", "short", "easy", "medium", "hard"):
        table.add_column(column, justify="left" if column == "topic" else "right")
    for topic in TOPICS:
        concept_ids = {c.id for c in loaded.concepts if c.topic == topic}
        questions = [q for q in loaded.questions if q.concepts[0] in concept_ids]
        kinds = Counter(q.kind for q in questions)
        levels = Counter(q.difficulty for q in questions)
        table.add_row(
            topic,
            str(len(concept_ids)),
            str(len(questions)),
            *(str(kinds[k]) for k in ("mcq", "short")),
            *(str(levels[d]) for d in ("easy", "medium", "hard")),
        )
    console.print(table)


@tutor_app.command("progress")
def progress(
    user: Annotated[
        str | None, typer.Option("--user", help="Learner id (default: MEDGRAPH_USER_ID).")
    ] = None,
    plot: Annotated[bool, typer.Option(help="Also write the mastery-over-time PNG.")] = True,
) -> None:
    """Show a learner's mastery per concept, totals, and where the plot was written."""
    from app.tutor_setup import TUTOR_DIR, opened_store
    from tools.tutor.bank import load_bank
    from tools.tutor.learner import LearnerModel
    from tools.tutor.progress import progress_report
    from tools.tutor.wire import ProgressInput

    settings = get_settings()
    args = ProgressInput(user_id=user or settings.user_id, tenant_id=settings.tenant_id, plot=plot)
    try:
        with opened_store(settings) as store:
            fitted = {k: v.bkt() for k, v in store.load_params().items()}
            model = LearnerModel(load_bank(), fitted)
            report = progress_report(model, store, args, settings.data_dir / TUTOR_DIR)
    except MedGraphError as exc:
        raise _fail(exc) from None
    table = Table(
        title=f"{args.user_id}: {report.answered} answers, {report.correct} right; "
        f"diagnostic {report.diagnostic}"
    )
    for column in ("concept", "topic", "mastery", "right/answers", "status"):
        table.add_column(column, justify="right" if column == "mastery" else "left")
    for row in report.rows:
        table.add_row(
            row.title, row.topic, f"{row.mastery:.2f}", f"{row.correct}/{row.attempts}", row.status
        )
    console.print(table)
    if report.plot_path:
        console.print(f"Mastery over time: {escape(report.plot_path)}")


@tutor_app.command("fit")
def fit(
    min_learners: Annotated[
        int, typer.Option(min=2, help="Fit a concept only with answers from this many learners.")
    ] = 30,
    min_answers: Annotated[
        int, typer.Option(min=2, help="...and at least this many counted answers.")
    ] = 150,
) -> None:
    """Refit each concept's BKT parameters by EM from all learners' logged answers."""
    from app.tutor_setup import opened_store
    from tools.tutor.bank import load_bank
    from tools.tutor.learner import LearnerModel
    from tools.tutor.refit import refit_params

    settings = get_settings()
    try:
        with opened_store(settings) as store:
            model = LearnerModel(load_bank(), {k: v.bkt() for k, v in store.load_params().items()})
            fitted = refit_params(
                model, store, min_sequences=min_learners, min_observations=min_answers
            )
    except MedGraphError as exc:
        raise _fail(exc) from None
    if not fitted:
        console.print("No concept has enough logged answers yet; the defaults stay in force.")
        return
    table = Table(title=f"Fitted BKT parameters ({len(fitted)} concepts)")
    for column in ("concept", "P(L0)", "P(T)", "P(G)", "P(S)", "learners", "answers"):
        table.add_column(column, justify="left" if column == "concept" else "right")
    for concept_id, p in sorted(fitted.items()):
        table.add_row(
            concept_id,
            *(f"{v:.3f}" for v in (p.prior, p.learn, p.guess, p.slip)),
            str(p.sequences),
            str(p.observations),
        )
    console.print(table)
