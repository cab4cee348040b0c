"""`medgraph serve` (the HTTP server) and `medgraph keys` (create, list, revoke its API keys).

Usage:
    medgraph keys add --tenant st-marys --user ada --role clinician   # prints the key once
    medgraph serve --port 8123 --workers 2
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from app.settings import get_settings
from state.errors import ConfigError, MedGraphError
from state.roles import ROLES

keys_app = typer.Typer(
    help="Create, list and revoke the server's API keys (stored hashed).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
console = Console()
err_console = Console(stderr=True)


@contextmanager
def _boundary() -> Iterator[None]:
    try:
        yield
    except MedGraphError as exc:
        err_console.print(f"[bold red]error:[/] {escape(str(exc))}")
        raise typer.Exit(exc.exit_code) from None


def serve(
    host: Annotated[str | None, typer.Option(help="Listen address (MEDGRAPH_SERVER_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (MEDGRAPH_SERVER_PORT).")] = None,
    workers: Annotated[
        int | None, typer.Option(help="Worker processes (MEDGRAPH_SERVER_WORKERS).")
    ] = None,
    log_level: Annotated[str, typer.Option(help="Log level of the JSON logs.")] = "info",
) -> None:
    """Serve the LangGraph Server API (langgraph-sdk, LangGraph Studio) with API keys."""
    import uvicorn

    with _boundary():
        settings = get_settings()
        if settings.resolved_server_redis_url is None:
            raise ConfigError(
                "the server keeps threads and runs in Redis: set "
                "MEDGRAPH_CHECKPOINT_URL=redis://… or MEDGRAPH_SERVER_REDIS_URL"
            )
        worker_count = workers or settings.server_workers
        if worker_count > 1 and not (settings.rag_uri or "").startswith(("http://", "https://")):
            raise ConfigError(
                "--workers above 1 needs a Milvus server (MEDGRAPH_RAG_URI=http://…): the "
                "default Milvus Lite store is a local file that one process opens at a time"
            )
        from app.server.keys import read_keys
        from app.server.logs import configure_json_logging

        if not read_keys(settings.resolved_server_keys_file):
            err_console.print(
                "[yellow]no API keys yet: every request will get 401. "
                "Create one with `medgraph keys add`."
            )
        configure_json_logging(log_level.upper())
        uvicorn.run(
            "app.server.app:app_from_settings",
            factory=True,
            host=host or settings.server_host,
            port=settings.server_port if port is None else port,
            workers=worker_count,
            log_config=None,
            log_level=log_level,
            access_log=False,
            timeout_graceful_shutdown=int(settings.server_shutdown_grace_s) or None,
        )


@keys_app.command("add")
def add(
    tenant: Annotated[str, typer.Option(help="The tenant the key's threads belong to.")],
    user: Annotated[str, typer.Option(help="The user the key stands for.")],
    role: Annotated[str, typer.Option(help=f"One of {', '.join(ROLES)}.")],
) -> None:
    """Create a key; it is printed once and only its SHA-256 is stored."""
    from app.server.keys import add_key

    with _boundary():
        path = get_settings().resolved_server_keys_file
        raw = add_key(path, tenant=tenant, user=user, role=role)  # type: ignore[arg-type]
        err_console.print(f"stored in {path}; this is the only time the key is shown:")
        console.print(raw)


@keys_app.command("list")
def list_keys() -> None:
    """List the keys: id, tenant, user, role and when each was made (never the key)."""
    from app.server.keys import read_keys

    with _boundary():
        records = read_keys(get_settings().resolved_server_keys_file)
    table = Table(title="API keys")
    for column in ("key id", "tenant", "user", "role", "created"):
        table.add_column(column)
    for r in records:
        table.add_row(r.key_id, r.tenant, r.user, r.role, r.created_at)
    console.print(table)


@keys_app.command("revoke")
def revoke(key_id: Annotated[str, typer.Argument(help="The key id (see `keys list`).")]) -> None:
    """Revoke a key; running servers stop accepting it at once."""
    from app.server.keys import revoke_key

    with _boundary():
        if not revoke_key(get_settings().resolved_server_keys_file, key_id):
            err_console.print(f"[bold red]error:[/] no key {escape(key_id)}")
            raise typer.Exit(2)
    console.print(f"revoked {key_id}")


serve_app = typer.Typer(pretty_exceptions_enable=False, add_completion=False)
serve_app.command()(serve)

if __name__ == "__main__":
    serve_app()
