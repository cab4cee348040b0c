"""The `medgraph eval` command: run eval suites, write a report with plots, keep the run history.

    medgraph eval                          # every suite
    medgraph eval routing guards           # some suites
    medgraph eval --compare latest         # paired differences against the last stored run
    medgraph eval --list                   # the suites and whether each can run

Runs are stored under `<data_dir>/evals/runs/<run_id>/` (report.md, results.json, PNGs). The
judge is an LLM judge when `MEDGRAPH_JUDGE_BASE_URL` (or `MEDGRAPH_MODEL_BASE_URL`) names an
endpoint, and otherwise the offline judge (not an LLM), as the report says.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from app.settings import Settings, get_settings
from state.errors import MedGraphError

if TYPE_CHECKING:
    from evals.harness import EvalContext
    from evals.judge import Judge
    from tools.guards.shared_embeddings import SharedEmbeddings

console = Console()
err_console = Console(stderr=True)


def runs_root(settings: Settings) -> Path:
    """Where eval runs and their history are kept."""
    return settings.data_dir / "evals" / "runs"


def make_judge(
    settings: Settings, embeddings: SharedEmbeddings, embedder_id: str, *, concurrency: int = 4
) -> Judge:
    """The configured LLM judge, or the offline judge when the judge role is embedded; cached."""
    from evals.judge import LlmJudge, ModelAccessTransport
    from evals.judge_cache import CachingJudge, JudgeCache
    from evals.judge_offline import OfflineJudge

    role = settings.model_role("judge")
    inner: Judge
    if role.embedded:
        inner = OfflineJudge(embeddings, embedder_id=embedder_id)
    else:
        from app.models import build_model_access

        # Only the judge role is called during an eval; the other roles are pointed at the
        # judge's endpoint so that no embedded model has to be started for them.
        access = build_model_access(settings, embedded_base_url=role.base_url)
        inner = LlmJudge(ModelAccessTransport(access), concurrency=concurrency)
    return CachingJudge(inner, JudgeCache(settings.cache_dir / "evals" / "judge"))


def eval_context(
    settings: Settings, workdir: Path, *, seed: int = 0, n_boot: int = 2000, concurrency: int = 4
) -> EvalContext:
    """The shared resources of one eval run, configured from settings."""
    from app.guard_setup import guard_config
    from evals.harness import EvalConfig, EvalContext
    from tools.models.embedder import MiniLMEmbedder
    from tools.models.registry import ModelRegistry

    config = EvalConfig(
        workdir=workdir,
        guard=guard_config(settings),
        seed=seed,
        n_boot=n_boot,
        route_direct=settings.route_direct_threshold,
        route_verify=settings.route_verify_threshold,
        route_clinical_margin=settings.route_clinical_margin,
    )
    registry = ModelRegistry(settings.local_device)
    return EvalContext(
        config,
        lambda: registry.get("minilm", MiniLMEmbedder.load),
        lambda embeddings, embedder_id: make_judge(
            settings, embeddings, embedder_id, concurrency=concurrency
        ),
    )


def _suite_list() -> Table:
    from evals.harness import missing_requirements
    from evals.suites import select

    table = Table(title="Eval suites")
    for column in ("suite", "agent", "title", "status"):
        table.add_column(column)
    for suite in select():
        missing = missing_requirements(suite)
        status = f"skipped (not installed: {', '.join(missing)})" if missing else "ready"
        table.add_row(suite.name, suite.agent, suite.title, status)
    return table


def eval_command(
    suites: Annotated[
        list[str] | None, typer.Argument(help="Suites to run (default: all; see --list).")
    ] = None,
    compare: Annotated[
        str | None,
        typer.Option("--compare", help="A stored run to compare with: its id, 'latest' or a path."),
    ] = None,
    boot: Annotated[int, typer.Option("--boot", min=100, help="Bootstrap resamples.")] = 2000,
    seed: Annotated[int, typer.Option("--seed", help="Bootstrap seed.")] = 0,
    judge_concurrency: Annotated[
        int, typer.Option("--judge-concurrency", min=1, help="Judge calls in flight at once.")
    ] = 4,
    list_suites: Annotated[bool, typer.Option("--list", help="List the suites and exit.")] = False,
) -> None:
    """Run eval suites; write a Markdown report with plots and a JSON results file."""
    try:
        if list_suites:
            console.print(_suite_list())
            return
        failed = _run(suites or [], compare, boot, seed, judge_concurrency)
    except MedGraphError as exc:
        err_console.print(f"[bold red]error:[/] {escape(str(exc))}")
        raise typer.Exit(exc.exit_code) from None
    raise typer.Exit(1 if failed else 0)


def _run(names: list[str], compare: str | None, boot: int, seed: int, concurrency: int) -> int:
    """Run, compare, check, save and print; returns the number of failed checks and suites."""
    import asyncio

    from app.runtime import quiet_model_libraries
    from evals.compare import compare_runs, pairwise_outputs
    from evals.harness import run_suites
    from evals.report import judge_line, load_run, metric_table, save_run
    from evals.suites import select
    from evals.thresholds import check_run, load_thresholds

    settings = get_settings()
    chosen = select(names)
    root = runs_root(settings)
    previous = load_run(compare, root) if compare else None
    quiet_model_libraries()
    with (
        tempfile.TemporaryDirectory(prefix="medgraph-eval-") as tmp,
        eval_context(settings, Path(tmp), seed=seed, n_boot=boot, concurrency=concurrency) as ctx,
    ):
        run = run_suites(chosen, ctx, progress=lambda name: err_console.print(f"running {name}"))
        comparisons, pairwise = [], []
        if previous is not None:
            comparisons = compare_runs(run, previous, n_boot=boot, seed=seed)
            pairwise = asyncio.run(
                pairwise_outputs(ctx.judge, ctx.rubrics["relevance"], run, previous)
            )
    checks = check_run(run, load_thresholds())
    report = save_run(
        run,
        root,
        checks=checks,
        comparisons=comparisons,
        pairwise=pairwise,
        compared_with=previous.run_id if previous is not None else None,
    )
    console.print(metric_table(run, checks))
    console.print(escape(judge_line(run)))
    console.print(f"report: {report}")
    failures = [c for c in checks if c.status == "failed"]
    for check in failures:
        err_console.print(f"[red]threshold failed[/] {check.suite}/{check.metric}: {check.reason}")
    errors = [s for s in run.suites if s.status == "error"]
    for suite in errors:
        err_console.print(f"[red]suite failed[/] {suite.name}: {escape(suite.reason)}")
    return len(failures) + len(errors)
