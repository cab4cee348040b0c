"""Render a chat session in the terminal with rich: streamed tokens, agent names, history."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from langchain_core.messages import AnyMessage, HumanMessage
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from graphs.turns import AnswerEvent, RouteEvent, TokenEvent, TurnEvent
from state.errors import MedGraphError

if TYPE_CHECKING:
    from app.runtime import ThreadSummary

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
        """Show a turn as it happens: the route, tokens as they stream, then each answer."""
        streamed: dict[str, str] = {}
        current: str | None = None
        for event in events:
            if isinstance(event, RouteEvent):
                self._route(event)
            elif isinstance(event, TokenEvent):
                if current != event.agent:
                    self._end_line(current)
                    self.console.print(f"[{AGENT_STYLE}]{event.agent}>[/] ", end="")
                    current = event.agent
                streamed[event.agent] = streamed.get(event.agent, "") + event.text
                self.console.print(escape(event.text), end="", soft_wrap=True)
            elif isinstance(event, AnswerEvent):
                self._end_line(current)
                current = None
                self._answer(event, streamed.pop(event.agent, ""))

    def _end_line(self, current: str | None) -> None:
        if current is not None:
            self.console.print()

    def _route(self, event: RouteEvent) -> None:
        plan = event.plan
        target = ", ".join(t.intent for t in plan.tasks) or "clarifying question"
        self.console.print(f"[dim]→ {target} ({plan.method}, confidence {plan.confidence:.2f})[/]")

    def _answer(self, event: AnswerEvent, streamed: str) -> None:
        if streamed and event.text.startswith(streamed):
            rest = event.text[len(streamed) :]
            if rest.strip():
                self.console.print(escape(rest.lstrip("\n")))
        else:
            self.console.print(f"[{AGENT_STYLE}]{event.agent}>[/] {escape(event.text)}")
        if event.needs_human:
            self.console.print("[bold yellow]Flagged for human follow-up.[/]")

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
