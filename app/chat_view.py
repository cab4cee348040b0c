"""Render a chat session in the terminal with rich: streamed tokens, agent names, history."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from langchain_core.messages import AnyMessage, HumanMessage
from rich.console import Console
from rich.live import Live
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from graphs.turns import AnswerEvent, ApprovalEvent, RouteEvent, TokenEvent, TurnEvent
from state.errors import MedGraphError

if TYPE_CHECKING:
    from app.runtime import ThreadSummary
    from graphs.approvals import PendingApproval

AGENT_STYLE = "bold magenta"


class ChatView:
    """Everything the chat loop shows; the loop never prints directly."""

    def __init__(self, console: Console) -> None:
        self.console = console

    def intro(self, thread_id: str) -> None:
        """Greeting with the thread id and how to get help."""
        self.console.print(
            f"[bold]MedGraph[/] chat, thread [cyan]{thread_id}[/]. Type /help for commands."
        )

    def turn(self, events: Iterable[TurnEvent]) -> None:
        """Show a turn as it happens: the route, tokens live, then each validated answer.

        Tokens are raw model output; the answer that guards and agents keep can differ (cleaned,
        cited, or a fallback), so streamed text lives in a transient region that the final
        answer replaces.
        """
        live: Live | None = None
        streamed = ""
        try:
            for event in events:
                if isinstance(event, RouteEvent):
                    self._route(event)
                elif isinstance(event, TokenEvent):
                    if live is None:
                        streamed = ""
                        live = Live(console=self.console, transient=True, refresh_per_second=12)
                        live.start()
                    streamed += event.text
                    live.update(Text.assemble((f"{event.agent}> ", AGENT_STYLE), streamed))
                elif isinstance(event, AnswerEvent | ApprovalEvent):
                    if live is not None:
                        live.stop()
                        live = None
                    if isinstance(event, AnswerEvent):
                        self._answer(event)
                    else:
                        self.approval(event.pending)
        finally:
            if live is not None:
                live.stop()

    def _route(self, event: RouteEvent) -> None:
        plan = event.plan
        target = ", ".join(t.intent for t in plan.tasks) or "clarifying question"
        self.console.print(f"[dim]→ {target} ({plan.method}, confidence {plan.confidence:.2f})[/]")

    def _answer(self, event: AnswerEvent) -> None:
        self.console.print(f"[{AGENT_STYLE}]{event.agent}>[/] {escape(event.text)}")
        if event.needs_human:
            self.console.print("[bold yellow]Flagged for human follow-up.[/]")

    def approval(self, pending: PendingApproval) -> None:
        """A gated action waiting for a human: the decision, its rules and sections, a preview."""
        request = pending.request
        decision = request.decision
        self.console.print(
            f"[bold yellow]Approval needed[/] [cyan]{request.request_id}[/]: "
            f"{escape(request.action)} requested by {escape(request.requested_by)} "
            f"({request.requested_role})"
        )
        self.console.print(f"  {escape(request.summary)}")
        self.console.print(
            f"  Decision: {decision.effect} by rule {', '.join(decision.rule_ids)}: "
            f"{escape(decision.reason)}"
        )
        self.console.print(f"  Approver role: {' or '.join(decision.approvers)}")
        for cited in request.citations:
            self.console.print("  " + escape(f"[{cited.id}] {cited.title}"))
        if request.refusal:
            self.console.print(f"  [red]Refused:[/] {escape(request.refusal)}")
        self.console.print("  Preview:")
        for line in request.preview.splitlines() or [""]:
            self.console.print(f"  [dim]│[/] {escape(line)}")
        self.console.print("  " + escape("/approve [note] or /reject [reason]"))

    def history(self, thread_id: str, messages: Sequence[AnyMessage]) -> None:
        """Replay a thread's messages."""
        if not messages:
            self.console.print(f"[dim]Thread {thread_id} has no messages yet.[/]")
            return
        self.console.print(f"[dim]History of thread {thread_id}:[/]")
        for message in messages:
            who = "you" if isinstance(message, HumanMessage) else (message.name or "assistant")
            style = "bold cyan" if who == "you" else AGENT_STYLE
            self.console.print(f"[{style}]{who}>[/] {escape(message.text)}")

    def threads(self, threads: Sequence[ThreadSummary], current: str) -> None:
        """A table of recent threads."""
        table = Table("thread", "updated", "checkpoints", title="Recent threads")
        for t in threads:
            mark = " (current)" if t.thread_id == current else ""
            updated = t.updated.strftime("%Y-%m-%d %H:%M:%S") if t.updated else "-"
            table.add_row(f"{t.thread_id}{mark}", updated, str(t.checkpoints))
        self.console.print(table if threads else "[dim]No threads yet.[/]")

    def note(self, text: str) -> None:
        """A plain informational line."""
        self.console.print(escape(text))

    def error(self, exc: MedGraphError, *, retry_hint: bool) -> None:
        """A short, actionable error; the session continues."""
        self.console.print(f"[bold red]error:[/] {escape(str(exc))}")
        if retry_hint:
            self.console.print("[dim]Your message is saved in the thread; /retry runs it again.[/]")

    def unexpected(self, exc: Exception) -> None:
        """An internal error: one line, the session continues."""
        self.console.print(
            f"[bold red]internal error:[/] {exc.__class__.__name__}: {escape(str(exc))} "
            "(run with --debug for details; the session continues)"
        )

    def goodbye(self) -> None:
        """Farewell line."""
        self.console.print("[dim]Bye.[/]")
