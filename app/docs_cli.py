"""The `medgraph ingest` command and `medgraph docs list|show|delete` for ingested documents."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from app.settings import Settings, get_settings
from state.errors import InputError, MedGraphError

if TYPE_CHECKING:
    from tools.rag.store import ChunkStore

docs_app = typer.Typer(
    help="List, show and delete ingested documents.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
console = Console()
err_console = Console(stderr=True)

STORE_FILE = "rag.db"
DEFAULT_COLLECTION = "default"
CollectionOption = Annotated[
    str, typer.Option("--collection", "-c", help="Document collection name.")
]


def store_uri(settings: Settings) -> str:
    """The Milvus URI: `MEDGRAPH_RAG_URI`, else a Milvus Lite file under the data directory."""
    return settings.rag_uri or str(settings.data_dir / STORE_FILE)


@contextmanager
def _store() -> Iterator[tuple[Settings, ChunkStore]]:
    """Open the configured chunk store; MedGraph errors become a message and an exit code."""
    try:
        from tools.rag.store import ChunkStore

        settings = get_settings()
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        store = ChunkStore(store_uri(settings))
        try:
            yield settings, store
        finally:
            store.close()
    except MedGraphError as exc:
        err_console.print(f"[bold red]error:[/] {escape(str(exc))}")
        raise typer.Exit(exc.exit_code) from None


def ingest(
    paths: Annotated[list[str], typer.Argument(help="Files, directories or globs to ingest.")],
    collection: CollectionOption = DEFAULT_COLLECTION,
) -> None:
    """Ingest documents (PDF, scanned PDF, Markdown, HTML, text) for retrieval with citations."""
    from tools.models.embedder import MiniLMEmbedder
    from tools.models.registry import ModelRegistry
    from tools.rag.ingest import Ingestor, summary_table

    with _store() as (settings, store):
        with err_console.status("Loading the MiniLM embedder"):
            embedder = ModelRegistry(settings.local_device).get("minilm", MiniLMEmbedder.load)
        report = Ingestor(store, embedder).ingest(
            paths, tenant_id=settings.tenant_id, collection=collection, console=err_console
        )
        console.print(summary_table(report))
    if report.failed:
        raise typer.Exit(InputError.exit_code)


@docs_app.command("list")
def list_documents(
    collection: Annotated[
        str | None, typer.Option("--collection", "-c", help="Only this collection.")
    ] = None,
) -> None:
    """List ingested documents with their chunk and page counts."""
    with _store() as (settings, store):
        sources = store.sources(settings.tenant_id, collection)
    table = Table(title=f"Documents of tenant {settings.tenant_id!r}")
    for column in ("collection", "source", "title", "pages", "chunks"):
        table.add_column(column, overflow="fold")
    for s in sources:
        table.add_row(
            escape(s.collection), escape(s.source), escape(s.title), str(s.pages), str(s.chunks)
        )
    console.print(table if sources else "No documents ingested yet (`medgraph ingest PATH`).")


@docs_app.command("show")
def show_document(
    source: Annotated[str, typer.Argument(help="Source key as `docs list` shows it.")],
    collection: CollectionOption = DEFAULT_COLLECTION,
) -> None:
    """Show a document's chunks with their ids and citation labels."""
    from tools.rag.citations import citation_label

    with _store() as (settings, store):
        chunks = store.chunks(settings.tenant_id, collection=collection, source=source)
    if not chunks:
        err_console.print(f"[bold red]error:[/] no document {escape(source)!r} in {collection!r}")
        raise typer.Exit(InputError.exit_code)
    for chunk in chunks:
        label = citation_label(chunk.source, chunk.page, chunk.section)
        console.print(f"[bold]{escape(label)}[/] [dim]{chunk.chunk_id}[/]")
        console.print(escape(chunk.body), "\n")


@docs_app.command("delete")
def delete_document(
    source: Annotated[
        str | None, typer.Argument(help="Source key to delete; omit with --all.")
    ] = None,
    collection: CollectionOption = DEFAULT_COLLECTION,
    everything: Annotated[
        bool, typer.Option("--all", help="Delete every document of the collection.")
    ] = False,
) -> None:
    """Delete one document's chunks, or a whole collection with --all."""
    if (source is None) == (not everything):
        err_console.print("[bold red]error:[/] give a SOURCE or --all, not both")
        raise typer.Exit(InputError.exit_code)
    with _store() as (settings, store):
        if source is None:
            removed = store.delete_collection(settings.tenant_id, collection)
        else:
            removed = store.delete_source(settings.tenant_id, collection, source)
    if not removed:
        err_console.print(f"[bold red]error:[/] nothing to delete in {collection!r}")
        raise typer.Exit(InputError.exit_code)
    console.print(f"Deleted {removed} chunks from {collection!r}.")
