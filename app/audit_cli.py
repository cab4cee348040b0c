"""The `medgraph audit` commands: tail, show a thread, verify the hash chain, export."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from app.settings import get_settings
from state.errors import MedGraphError

if TYPE_CHECKING:
    from state.audit import AuditRecord, AuditTrail

audit_app = typer.Typer(
    help="Inspect, verify and export the hash-chained audit trail.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
console = Console()
err_console = Console(stderr=True)

VERIFY_BROKEN_EXIT = 1


class ExportFormat(StrEnum):
    """Export formats."""

    jsonl = "jsonl"


@contextmanager
def _audit() -> Iterator[AuditTrail]:
    """Open the configured audit trail for reading; errors become a message and exit code."""
    try:
        settings = get_settings()
        from state.audit import open_audit

        with open_audit(settings.resolved_audit_url, batch=False) as audit:
            yield audit
    except MedGraphError as exc:
        err_console.print(f"[bold red]error:[/] {escape(str(exc))}")
        raise typer.Exit(exc.exit_code) from None


def _table(records: list[AuditRecord], title: str) -> Table:
    table = Table(title=title, show_lines=False)
    for column in ("id", "time (UTC)", "tenant", "user", "thread", "node", "event", "payload"):
        table.add_column(column, overflow="fold")
    table.add_column("hash", no_wrap=True)
    for r in records:
        table.add_row(
            str(r.id),
            r.ts[:23],
            escape(r.tenant),
            escape(r.user),
            escape(r.thread),
            escape(r.node or ""),
            r.event_type,
            escape(json.dumps(r.payload, sort_keys=True)[:200]),
            r.hash[:12],
        )
    return table


@audit_app.command()
def tail(
    n: Annotated[int, typer.Option("-n", "--lines", min=1, help="How many rows.")] = 20,
) -> None:
    """Show the last rows of the audit trail."""
    with _audit() as audit:
        records = audit.tail(n)
    console.print(_table(records, f"last {len(records)} audit rows"))


@audit_app.command()
def show(thread: Annotated[str, typer.Argument(help="The thread id.")]) -> None:
    """Show every audit row of one thread."""
    with _audit() as audit:
        records = audit.for_thread(thread)
    if not records:
        console.print(f"no audit rows for thread {escape(thread)!r}")
        return
    console.print(_table(records, f"audit rows of thread {escape(thread)}"))


@audit_app.command()
def verify() -> None:
    """Walk the hash chain; exit 1 and name the first broken row when it was tampered with."""
    with _audit() as audit:
        result = audit.verify()
    if result.ok:
        console.print(f"[green]audit chain OK[/]: {result.rows_checked} rows verified")
        return
    console.print(
        f"[bold red]audit chain BROKEN[/] at row {result.first_broken_id}: {result.reason} "
        f"({result.rows_checked} rows checked)"
    )
    raise typer.Exit(VERIFY_BROKEN_EXIT)


@audit_app.command()
def export(
    format: Annotated[
        ExportFormat, typer.Option("--format", "-f", help="Output format.")
    ] = ExportFormat.jsonl,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="File to write; stdout if omitted.")
    ] = None,
) -> None:
    """Export every audit row, oldest first."""
    with _audit() as audit:
        if output is None:
            count = audit.export_jsonl(sys.stdout)
        else:
            with output.open("w", encoding="utf-8") as fileobj:
                count = audit.export_jsonl(fileobj)
    err_console.print(f"exported {count} rows as {format.value}")
