"""The `medgraph guard check` command: show what each guard decides about a text, for debugging."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from app.settings import get_settings
from state.errors import MedGraphError

if TYPE_CHECKING:
    from tools.guards.metrics import GuardDecision

guard_app = typer.Typer(
    help="Debug the guardrails: see each guard's decision on a text.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
console = Console()
err_console = Console(stderr=True)


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
    from app.guard_setup import build_guards
    from state.schema import PhiVault
    from tools.models.embedder import MiniLMEmbedder

    try:
        guards = build_guards(get_settings(), MiniLMEmbedder.load("cpu"))
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
