"""The `medgraph` command line: chat, ask, doctor, prepare, serve-model and the mounted sub-apps."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape

from app.approvals_cli import approvals_app
from app.audit_cli import audit_app
from app.docs_cli import docs_app
from app.docs_cli import ingest as ingest_command
from app.eval_cli import eval_command
from app.guard_cli import guard_app
from app.radiology_cli import radiology_app
from app.server_cli import keys_app
from app.server_cli import serve as serve_command
from app.settings import Settings, get_settings
from app.tutor_cli import tutor_app
from app.user_input import decode_user_bytes, validate_user_text
from state.errors import MedGraphError

if TYPE_CHECKING:
    from app.runtime import Runtime

app = typer.Typer(
    name="medgraph",
    help="MedGraph: a multi-agent clinical AI assistant (radiology, documents, tutor, policy).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(audit_app, name="audit", help="Inspect, verify and export the audit trail.")
app.add_typer(
    approvals_app, name="approvals", help="List, approve and reject gated actions awaiting a human."
)
app.add_typer(docs_app, name="docs", help="List, show and delete ingested documents.")
app.command("ingest")(ingest_command)
app.add_typer(
    guard_app, name="guard", help="Debug the guardrails: each guard's decision on a text."
)
app.command("eval")(eval_command)
app.add_typer(
    tutor_app, name="tutor", help="Check the tutor's bank, show a learner's progress, refit BKT."
)
app.add_typer(
    radiology_app,
    name="radiology",
    help="Chest X-ray reports and heatmaps (CheXQuery-MedVLM), phantoms, training.",
)
app.command("serve")(serve_command)
app.add_typer(keys_app, name="keys", help="Create, list and revoke the server's API keys.")
console = Console()
err_console = Console(stderr=True)


_flags: dict[str, bool] = {"debug": False}


@app.callback()
def _root(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False,
) -> None:
    _flags["debug"] = debug


def _settings() -> Settings:
    settings = get_settings()
    if _flags["debug"]:
        settings = settings.model_copy(update={"debug": True})
    return settings


@contextmanager
def _boundary() -> Iterator[None]:
    """Turn MedGraph errors into a short message and their exit code."""
    try:
        yield
    except MedGraphError as exc:
        if _flags["debug"]:
            err_console.print_exception()
        err_console.print(f"[bold red]error:[/] {escape(str(exc))}")
        raise typer.Exit(exc.exit_code) from None


def _open_runtime(settings: Settings) -> Runtime:
    from app.runtime import Runtime

    return Runtime(settings, console=err_console)


@app.command()
def chat(
    thread: Annotated[
        str | None, typer.Option("--thread", "-t", help="Continue this thread id.")
    ] = None,
) -> None:
    """Chat with MedGraph; answers stream, and each shows which agent gave it."""
    from app.chat_session import ChatSession, new_thread_id
    from app.chat_view import ChatView

    with _boundary():
        settings = _settings()
        with _open_runtime(settings) as runtime:
            session = ChatSession(
                runtime, ChatView(console), settings, thread or new_thread_id(), resume=bool(thread)
            )
            session.loop(lambda: console.input("[bold cyan]you> [/]"))


@app.command()
def ask(
    message: Annotated[
        str, typer.Argument(help="The message; use - to read UTF-8 text from standard input.")
    ],
    thread: Annotated[str | None, typer.Option("--thread", "-t", help="Thread id.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON object.")] = False,
    image: Annotated[
        Path | None,
        typer.Option("--image", help="Attach a chest X-ray (PNG, JPEG or DICOM) to the message."),
    ] = None,
) -> None:
    """Ask one question and print the answer (for scripts)."""
    from app.attachments import store_attachment_file
    from app.chat_session import new_thread_id
    from graphs.turns import AnswerEvent, RouteEvent

    with _boundary():
        settings = _settings()
        raw = decode_user_bytes(sys.stdin.buffer.read()) if message == "-" else message
        text = validate_user_text(raw, settings.max_message_chars)
        thread_id = thread or new_thread_id()
        attachments = (
            [store_attachment_file(image, "image", settings.data_dir)] if image is not None else []
        )
        with _open_runtime(settings) as runtime:
            events = list(runtime.turn(thread_id, text, attachments))
        answers = [e for e in events if isinstance(e, AnswerEvent)]
        route = next((e.plan for e in events if isinstance(e, RouteEvent)), None)
        if as_json:
            payload = {
                "thread_id": thread_id,
                "route": route.model_dump() if route else None,
                "answers": [
                    {"agent": a.agent, "text": a.text, "needs_human": a.needs_human}
                    for a in answers
                ],
            }
            console.print_json(json.dumps(payload))
            return
        for answer in answers:
            console.print(f"[bold magenta]{answer.agent}[/]")
            console.print(escape(answer.text))


@app.command()
def doctor() -> None:
    """Show what is configured and what is reachable: endpoints, assets, services, GPU."""

    from app.doctor import run_doctor

    with _boundary():
        healthy = run_doctor(_settings(), console)
    raise typer.Exit(0 if healthy else 1)


@app.command()
def prepare() -> None:
    """Prepare local model assets (convert the embedded LLM once; check the embedder)."""
    from tools.llm.gguf_weights import ensure_weights
    from tools.models.embedder import MiniLMEmbedder

    with _boundary():
        settings = _settings()
        path = ensure_weights(settings.cache_dir, console=err_console)
        console.print(f"embedded LLM weights: {path}")
        embedder = MiniLMEmbedder.load("cpu")
        console.print(f"MiniLM embedder: ok ({embedder.variant})")


@app.command("serve-model")
def serve_model() -> None:
    """Serve the embedded model on an OpenAI-compatible /v1/chat/completions endpoint."""
    from app.model_server import run_server

    with _boundary():
        run_server(_settings())


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
