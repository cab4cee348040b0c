"""The `medgraph guard check` command: show what each guard decides about a text, for debugging.

Mount it in `app/cli.py` with `app.add_typer(guard_app, name="guard")`.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from app.settings import Settings, get_settings
from state.errors import MedGraphError
from state.schema import PhiVault
from tools.guards.assembly import GuardConfig, GuardSet, build_guard_set
from tools.guards.metrics import GuardDecision
from tools.guards.policy import parse_route_off

guard_app = typer.Typer(
    help="Debug the guardrails: see each guard's decision on a text.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
console = Console()
err_console = Console(stderr=True)


def guard_config(settings: Settings, *, enabled: bool = True) -> GuardConfig:
    """The guards' setting values (`MEDGRAPH_GUARD_*`), for the composition root."""
    return GuardConfig(
        profile=settings.guard_profile,
        cache_dir=settings.cache_dir,
        max_chars=settings.max_message_chars,
        injection_threshold=settings.guard_injection_threshold,
        disabled=tuple(g.strip() for g in settings.guard_disabled.split(",") if g.strip()),
        route_off=tuple(parse_route_off(settings.guard_route_off)),
        enabled=enabled,
    )


def load_guards(settings: Settings) -> GuardSet:
    """MiniLM and every guard, built from settings (the classifier fit is cached)."""
    from tools.models.embedder import MiniLMEmbedder

    embedder = MiniLMEmbedder.load("cpu")
    return build_guard_set(
        embedder, guard_config(settings), embedder_id=f"minilm-{embedder.variant}"
    )


def _table(decisions: list[GuardDecision]) -> Table:
    table = Table(title="guard decisions")
    for column in ("guard", "stage", "action", "severity", "route", "ms", "reason", "detail"):
        table.add_column(column, overflow="fold")
    for d in decisions:
        table.add_row(
            d.guard,
            d.stage,
            d.action,
            d.severity,
            d.route,
            f"{d.latency_ms:.2f}",
            escape(d.reason or ""),
            escape(str(d.detail)),
        )
    return table


@guard_app.command("check")
def check(
    text: Annotated[str, typer.Argument(help="the text to check")],
    output: Annotated[
        bool, typer.Option("--output", help="check it as a model answer instead of user input")
    ] = False,
    route: Annotated[str, typer.Option(help="the answering agent, for --output")] = "radiology",
) -> None:
    """Run the input guards (or, with --output, the output guards) on TEXT and show each one."""
    try:
        guards = load_guards(get_settings())
        vault = PhiVault(owner="guard-check")
        if output:
            verdict = guards.output.check(text, route=route, vault=vault)
            action, result, decisions = verdict.action, verdict.text, verdict.decisions
        else:
            checked = guards.input.check(text, vault)
            action, result, decisions = checked.action, checked.text, checked.decisions
    except MedGraphError as exc:
        err_console.print(f"[bold red]error:[/] {escape(str(exc))}")
        raise typer.Exit(exc.exit_code) from None
    console.print(_table(decisions))
    console.print(f"[bold]outcome:[/] {action}")
    console.print(f"[bold]redacted text:[/] {escape(result)}")
