"""`medgraph approvals list|approve ID|reject ID`: decide paused gated actions outside the chat.

`list` reads only the checkpoint store, so it is quick. `approve` and `reject` check the reply
(the request is waiting, your role may decide it) before anything loads, then open the runtime
and resume the paused turn, which carries out or drops the action and writes the audit trail.
Your identity and role come from `MEDGRAPH_USER_ID` and `MEDGRAPH_USER_ROLE`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Literal

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from app.settings import Settings, get_settings
from state.errors import ApprovalError, MedGraphError

if TYPE_CHECKING:
    from graphs.approvals import PendingApproval

approvals_app = typer.Typer(
    help="List, approve and reject gated actions waiting for a human.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
console = Console()
err_console = Console(stderr=True)


@contextmanager
def _boundary() -> Iterator[Settings]:
    """Settings for the command; MedGraph errors become a message and their exit code."""
    try:
        yield get_settings()
    except MedGraphError as exc:
        err_console.print(f"[bold red]error:[/] {escape(str(exc))}")
        raise typer.Exit(exc.exit_code) from None


def _pending(settings: Settings) -> list[PendingApproval]:
    """The tenant's waiting approvals, read from the checkpoint store alone."""
    from graphs.approvals import find_pending
    from graphs.checkpoint_types import graph_record_types
    from state.checkpointer import open_checkpointer

    with open_checkpointer(
        settings.resolved_checkpoint_url, record_types=graph_record_types()
    ) as checkpointer:
        return list(find_pending(checkpointer, settings.tenant_id))


@approvals_app.command("list")
def list_approvals() -> None:
    """Show every gated action waiting for approval, with its decision and cited sections."""
    with _boundary() as settings:
        pending = _pending(settings)
    if not pending:
        console.print("No approvals are waiting.")
        return
    table = Table(title=f"Approvals waiting (tenant {settings.tenant_id!r})")
    for column in ("id", "thread", "action", "requested by", "approver role", "rules", "cites"):
        table.add_column(column, overflow="fold")
    for p in pending:
        request = p.request
        table.add_row(
            request.request_id,
            escape(p.thread_id),
            request.action,
            f"{escape(request.requested_by)} ({request.requested_role})",
            " or ".join(request.decision.approvers),
            ", ".join(request.decision.rule_ids),
            ", ".join(c.id for c in request.citations),
        )
    console.print(table)


def _decide(request_id: str, decision: Literal["approve", "reject"], note: str) -> None:
    from app.chat_view import ChatView
    from app.runtime import Runtime
    from graphs.approvals import resume_command

    with _boundary() as settings:
        match = [p for p in _pending(settings) if p.request.request_id == request_id]
        if not match:
            raise ApprovalError(
                f"no approval {request_id!r} is waiting (see `medgraph approvals list`)"
            )
        resume_command(
            match,
            approver=settings.user_id,
            role=settings.user_role,
            decision=decision,
            note=note,
            request_id=request_id,
        )
        with Runtime(settings, console=err_console) as runtime:
            events = runtime.decide(match[0].thread_id, decision, note, request_id)
            ChatView(console).turn(events)


@approvals_app.command("approve")
def approve(
    request_id: Annotated[str, typer.Argument(help="The approval id, e.g. apr-1a2b3c4d5e.")],
    note: Annotated[str, typer.Option("--note", "-n", help="A note kept with the decision.")] = "",
) -> None:
    """Approve a waiting action as your role; it is carried out once and audited."""
    _decide(request_id, "approve", note)


@approvals_app.command("reject")
def reject(
    request_id: Annotated[str, typer.Argument(help="The approval id, e.g. apr-1a2b3c4d5e.")],
    reason: Annotated[str, typer.Option("--reason", "-r", help="Why it is rejected.")] = "",
) -> None:
    """Reject a waiting action: nothing is done, and the rejection is audited."""
    _decide(request_id, "reject", reason)
