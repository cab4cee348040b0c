"""The chunk store on Milvus: one collection, dense + built-in BM25 vectors, tenant partitions.

Usage:
    store = ChunkStore("/data/rag.db")            # Milvus Lite file; "http://host:19530" works too
    store.replace_source("acme", chunks, vectors, file_hash="…")
    hits = store.dense_search("acme", query_vector, k=20)
    hits = store.bm25_search("acme", "pleural effusion", k=20, collection="guides")

Schema: the chunk text (title, section path, body) feeds Milvus's BM25 function, which fills a
sparse vector server-side; the MiniLM vector is a 384-d float vector; metadata are scalar fields.
`tenant_id` is the partition key, and every read and delete here adds `tenant_id == …` to its
filter, so a query never sees another tenant's chunks. Collections are consistent ("Strong").

Searches go to Milvus on a server. On a Milvus Lite file they go to an in-process index of the
same vectors and texts (`tools.rag.local_index`: exact numpy scan + bm25s), because Milvus
Lite 3.x is pure Python (at 100k chunks about 150 ms per HNSW search and 1.5 s per BM25
search on 2 cores); `search_backend="milvus"` or `"local"` forces either. The in-process index
is saved beside the file (`rag.db.search/`) so a restart loads it instead of re-reading every
row; every write deletes the tenant's saved copy first.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pymilvus import DataType, Function, FunctionType, MilvusClient, MilvusException

from state.errors import ConfigError, InputError, StateUnavailable
from tools.rag.chunking import Chunk
from tools.rag.local_index import IndexRow, LocalIndex, LocalIndexCache, Scored

SearchBackend = Literal["auto", "local", "milvus"]
DEFAULT_COLLECTION = "medgraph_chunks"
MAX_TEXT_CHARS = 16_000
_PAGE = 5000  # rows per query page
_OUTPUT_FIELDS = [
    "chunk_id", "doc_collection", "source", "title", "page", "section", "ordinal", "body",
    "content_hash",
]  # fmt: skip
# Lower-casing, English stop words and Snowball stemming before BM25 term statistics.
_ANALYZER = {
    "tokenizer": "standard",
    "filter": [
        "lowercase",
        {"type": "stop", "stop_words": ["_english_"]},
        {"type": "stemmer", "language": "english"},
    ],
}


@dataclass(frozen=True)
class DenseIndex:
    """The dense index: HNSW (M, efConstruction) with inner product, searched with `ef`.

    HNSW keeps recall@5 near exact at 100k x 384 with ef=64 while staying far under the latency
    of a flat scan on a few cores; M=16 costs ~128 B/vector of graph on top of 1.5 KB of floats.
    """

    index_type: str = "HNSW"
    params: dict[str, int] = field(default_factory=lambda: {"M": 16, "efConstruction": 200})
    search_params: dict[str, int] = field(default_factory=lambda: {"ef": 64})


@dataclass(frozen=True)
class Hit:
    """A chunk found by one search, its score there (higher is better) and its dense vector."""

    chunk: Chunk
    score: float
    vector: np.ndarray


@dataclass(frozen=True)
class SourceInfo:
    """One ingested file of a tenant: where it came from and what it holds."""

    collection: str
    source: str
    title: str
    file_hash: str
    chunks: int
    pages: int


def literal(value: str) -> str:
    """A Milvus filter string literal with quotes and backslashes escaped."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _check_tenant(tenant_id: str) -> str:
    if not tenant_id or len(tenant_id) > 64:
        raise InputError("a tenant id of 1 to 64 characters is required")
    return tenant_id


def scope_filter(collection: str | None = None, sources: Sequence[str] | None = None) -> str | None:
    """A filter narrowing to a document collection and/or sources; None when neither is given."""
    parts = []
    if collection is not None:
        parts.append(f"doc_collection == {literal(collection)}")
    if sources is not None:
        parts.append("source in [" + ", ".join(literal(s) for s in sources) + "]")
    return " and ".join(parts) or None


def metadata_filter(
    tenant_id: str, *, collection: str | None = None, sources: Sequence[str] | None = None
) -> str:
    """The filter expression for one tenant, optionally narrowed to a collection and sources."""
    tenant = f"tenant_id == {literal(_check_tenant(tenant_id))}"
    scope = scope_filter(collection, sources)
    return tenant if scope is None else f"{tenant} and {scope}"


def _chunk(entity: dict[str, Any]) -> Chunk:
    page = int(entity["page"])
    return Chunk(
        chunk_id=entity["chunk_id"],
        collection=entity["doc_collection"],
        source=entity["source"],
        title=entity["title"],
        page=page or None,
        section=tuple(json.loads(entity["section"])),
        ordinal=int(entity["ordinal"]),
        body=entity["body"],
        content_hash=entity["content_hash"],
    )


class _DropIteratorClockWarning(logging.Filter):
    """Milvus Lite returns no session timestamp to a query iterator; pymilvus warns on every
    iterator and falls back to the client clock, which is what a local file needs."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "failed to get mvccTs" not in record.getMessage()


logging.getLogger("pymilvus.client.iterator.query_iterator").addFilter(_DropIteratorClockWarning())


class _DropUnimplementedRpcError(logging.Filter):
    """Milvus Lite serves its gRPC API inside this process and does not implement every call
    (`AllocTimestamp`, asked for while a new collection's index is built). pymilvus falls back,
    but gRPC's server logs each one as an ERROR with a traceback, printed into the chat."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith(
            "Exception calling application: Method not implemented!"
        )


logging.getLogger("grpc._server").addFilter(_DropUnimplementedRpcError())

# Milvus Lite holds an exclusive lock on its file, so every writer of a local store is in this
# process and one process-wide cache sees every write that must invalidate an index.
_LOCAL = LocalIndexCache()


def is_local_uri(uri: str) -> bool:
    """True for a Milvus Lite file path, False for a server address (`http://…`, `tcp://…`)."""
    return "://" not in uri


class ChunkStore:
    """Chunks of every tenant in one Milvus collection; Milvus Lite file or server URI."""

    def __init__(
        self,
        uri: str,
        *,
        collection_name: str = DEFAULT_COLLECTION,
        dim: int = 384,
        token: str = "",
        index: DenseIndex | None = None,
        search_backend: SearchBackend = "auto",
    ) -> None:
        self.uri = uri
        self.collection_name = collection_name
        self.dim = dim
        self.index = index or DenseIndex()
        self.local_search = search_backend == "local" or (
            search_backend == "auto" and is_local_uri(uri)
        )
        self._index_key = (
            str(Path(uri).resolve()) if is_local_uri(uri) else uri,
            collection_name,
        )
        # Saved in-process indexes, beside a Milvus Lite file: `<file>.search/<collection>/`.
        self._snapshots = (
            Path(self._index_key[0] + ".search") / collection_name if is_local_uri(uri) else None
        )
        try:
            self._client = MilvusClient(uri=uri, token=token)
            if not self._client.has_collection(collection_name):
                self._create()
            self._client.load_collection(collection_name)
        except MilvusException as exc:
            raise StateUnavailable(f"Milvus at {uri} cannot be used: {exc.message}") from exc

    def _create(self) -> None:
        schema = self._client.create_schema(auto_id=False)
        schema.add_field("pk", DataType.VARCHAR, is_primary=True, max_length=96)
        schema.add_field("tenant_id", DataType.VARCHAR, max_length=64, is_partition_key=True)
        schema.add_field("doc_collection", DataType.VARCHAR, max_length=128)
        schema.add_field("source", DataType.VARCHAR, max_length=1024)
        schema.add_field("chunk_id", DataType.VARCHAR, max_length=32)
        schema.add_field("title", DataType.VARCHAR, max_length=512)
        schema.add_field("page", DataType.INT64)
        schema.add_field("section", DataType.VARCHAR, max_length=2048)
        schema.add_field("ordinal", DataType.INT64)
        schema.add_field("body", DataType.VARCHAR, max_length=MAX_TEXT_CHARS * 4)
        schema.add_field(
            "text",
            DataType.VARCHAR,
            max_length=MAX_TEXT_CHARS * 4,
            enable_analyzer=True,
            analyzer_params=_ANALYZER,
        )
        schema.add_field("content_hash", DataType.VARCHAR, max_length=32)
        schema.add_field("file_hash", DataType.VARCHAR, max_length=64)
        schema.add_field("dense", DataType.FLOAT_VECTOR, dim=self.dim)
        schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
        schema.add_function(
            Function(
                name="bm25",
                function_type=FunctionType.BM25,
                input_field_names=["text"],
                output_field_names=["sparse"],
            )
        )
        index_params = self._client.prepare_index_params()
        index_params.add_index(
            "dense", index_type=self.index.index_type, metric_type="IP", params=self.index.params
        )
        index_params.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25")
        self._client.create_collection(
            self.collection_name,
            schema=schema,
            index_params=index_params,
            consistency_level="Strong",
        )

    def flush(self) -> None:
        """Seal what was written so it is indexed (Milvus Lite searches unsealed rows by scan)."""
        self._call("flush", self._client.flush, self.collection_name)

    def close(self) -> None:
        """Close the client (and Milvus Lite's local server)."""
        self._client.close()

    def _call(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except MilvusException as exc:
            raise StateUnavailable(f"Milvus {what} failed at {self.uri}: {exc.message}") from exc

    # --- writes ---------------------------------------------------------------------------

    def replace_source(
        self,
        tenant_id: str,
        chunks: Sequence[Chunk],
        vectors: np.ndarray,
        *,
        file_hash: str,
    ) -> int:
        """Delete the source's old chunks, then insert these; returns the chunks inserted."""
        if not chunks:
            return 0
        sources = {(c.collection, c.source) for c in chunks}
        if len(sources) != 1:
            raise ConfigError("replace_source takes the chunks of exactly one source")
        collection, source = sources.pop()
        self._validate(tenant_id, chunks, vectors)
        self.delete_source(tenant_id, collection, source)
        return self.insert(tenant_id, chunks, vectors, file_hash=file_hash)

    def insert(
        self, tenant_id: str, chunks: Sequence[Chunk], vectors: np.ndarray, *, file_hash: str
    ) -> int:
        """Insert chunks as they are (no replacement); `replace_source` is the idempotent path."""
        self._validate(tenant_id, chunks, vectors)
        rows = [
            {
                "pk": f"{tenant_id}:{c.chunk_id}",
                "tenant_id": tenant_id,
                "doc_collection": c.collection,
                "source": c.source,
                "chunk_id": c.chunk_id,
                "title": c.title[:512],
                "page": c.page or 0,
                "section": json.dumps(list(c.section)),
                "ordinal": c.ordinal,
                "body": c.body,
                "text": c.text,
                "content_hash": c.content_hash,
                "file_hash": file_hash,
                "dense": vector.tolist(),
            }
            for c, vector in zip(chunks, vectors.astype(np.float32), strict=True)
        ]
        self._invalidate(tenant_id)
        try:
            self._call("insert", self._client.insert, self.collection_name, rows)
        finally:
            self._invalidate(tenant_id)
        return len(rows)

    def _validate(self, tenant_id: str, chunks: Sequence[Chunk], vectors: np.ndarray) -> None:
        _check_tenant(tenant_id)
        if vectors.shape != (len(chunks), self.dim):
            raise ConfigError(f"expected vectors [{len(chunks)}, {self.dim}], got {vectors.shape}")
        for chunk in chunks:
            if len(chunk.body) > MAX_TEXT_CHARS:
                raise InputError(
                    f"{chunk.source}: a chunk of {len(chunk.body)} characters exceeds "
                    f"{MAX_TEXT_CHARS}"
                )

    def delete_source(self, tenant_id: str, collection: str, source: str) -> int:
        """Delete every chunk of one source; returns how many there were."""
        expr = metadata_filter(tenant_id, collection=collection, sources=[source])
        return self._delete(tenant_id, expr)

    def delete_collection(self, tenant_id: str, collection: str) -> int:
        """Delete every chunk of a tenant's document collection."""
        return self._delete(tenant_id, metadata_filter(tenant_id, collection=collection))

    def _delete(self, tenant_id: str, expr: str) -> int:
        existing = sum(1 for _ in self._rows(expr, ["pk"]))
        if existing:
            self._invalidate(tenant_id)
            try:
                self._call("delete", self._client.delete, self.collection_name, filter=expr)
            finally:
                self._invalidate(tenant_id)
        return existing

    def _invalidate(self, tenant_id: str) -> None:
        """Drop the tenant's in-process index and its snapshot (before and after each write)."""
        _LOCAL.invalidate((*self._index_key, tenant_id), self.snapshot_path(tenant_id))

    def snapshot_path(self, tenant_id: str) -> Path | None:
        """Where the tenant's in-process index is saved; None on a Milvus server."""
        if self._snapshots is None:
            return None
        return self._snapshots / hashlib.sha256(tenant_id.encode()).hexdigest()[:32]

    # --- reads ----------------------------------------------------------------------------

    def _rows(self, expr: str, fields: list[str]) -> Iterator[dict[str, Any]]:
        """Every row matching `expr`, a page at a time (pymilvus seeks by primary key)."""
        rows = self._call(
            "query",
            self._client.query_iterator,
            self.collection_name,
            batch_size=_PAGE,
            filter=expr,
            output_fields=fields,
        )
        try:
            while page := self._call("query", rows.next):
                yield from page
        finally:
            rows.close()

    def file_hashes(self, tenant_id: str, collection: str) -> dict[str, str]:
        """The stored file hash of each source in a tenant's collection."""
        expr = metadata_filter(tenant_id, collection=collection) + " and ordinal == 0"
        return {r["source"]: r["file_hash"] for r in self._rows(expr, ["source", "file_hash"])}

    def sources(self, tenant_id: str, collection: str | None = None) -> list[SourceInfo]:
        """Every source a tenant has ingested, with chunk and page counts."""
        fields = ["doc_collection", "source", "title", "file_hash", "page"]
        found: dict[tuple[str, str], tuple[str, str, int, set[int]]] = {}
        for row in self._rows(metadata_filter(tenant_id, collection=collection), fields):
            key = (row["doc_collection"], row["source"])
            title, file_hash, count, pages = found.get(
                key, (row["title"], row["file_hash"], 0, set())
            )
            if row["page"]:
                pages.add(int(row["page"]))
            found[key] = (title, file_hash, count + 1, pages)
        return [
            SourceInfo(collection, source, title, file_hash, count, len(pages))
            for (collection, source), (title, file_hash, count, pages) in sorted(found.items())
        ]

    def chunks(
        self, tenant_id: str, *, collection: str | None = None, source: str | None = None
    ) -> list[Chunk]:
        """A tenant's chunks (optionally one collection or source), in document order."""
        expr = metadata_filter(
            tenant_id, collection=collection, sources=None if source is None else [source]
        )
        found = [_chunk(r) for r in self._rows(expr, _OUTPUT_FIELDS)]
        return sorted(found, key=lambda c: (c.collection, c.source, c.page or 0, c.chunk_id))

    def count(self, tenant_id: str) -> int:
        """How many chunks a tenant has."""
        result = self._call(
            "count",
            self._client.query,
            self.collection_name,
            filter=metadata_filter(tenant_id),
            output_fields=["count(*)"],
        )
        return int(result[0]["count(*)"])

    def dense_search(
        self,
        tenant_id: str,
        vector: np.ndarray,
        k: int,
        *,
        collection: str | None = None,
        sources: Sequence[str] | None = None,
    ) -> list[Hit]:
        """Top-k chunks by inner product (cosine: vectors are unit length)."""
        if self.local_search:
            found = self._local(tenant_id).dense(vector, k, collection=collection, sources=sources)
            return self._hits(found)
        return self._search(
            "dense search",
            [vector.astype(np.float32).tolist()],
            "dense",
            {"metric_type": "IP", "params": self.index.search_params},
            metadata_filter(tenant_id, collection=collection, sources=sources),
            k,
        )

    def bm25_search(
        self,
        tenant_id: str,
        text: str,
        k: int,
        *,
        collection: str | None = None,
        sources: Sequence[str] | None = None,
    ) -> list[Hit]:
        """Top-k chunks by BM25 over the analysed chunk text."""
        if self.local_search:
            found = self._local(tenant_id).bm25(text, k, collection=collection, sources=sources)
            return self._hits(found)
        expr = metadata_filter(tenant_id, collection=collection, sources=sources)
        return self._search("BM25 search", [text], "sparse", {"metric_type": "BM25"}, expr, k)

    def _local(self, tenant_id: str) -> LocalIndex:
        def build() -> LocalIndex:
            stamp = self.collection_rows()
            fields = ["pk", "doc_collection", "source", "text", "dense"]
            rows = [
                IndexRow(
                    r["pk"],
                    r["doc_collection"],
                    r["source"],
                    r["text"],
                    np.asarray(r["dense"], dtype=np.float32),
                )
                for r in self._rows(metadata_filter(tenant_id), fields)
            ]
            return LocalIndex.build(rows, self.dim, stamp=stamp)

        def still_fits(saved: LocalIndex) -> bool:
            # The collection's row count is cheap; the tenant's count(*) takes seconds at 100k
            # on Milvus Lite, so it only settles a collection that changed since the save.
            return saved.stamp == self.collection_rows() or len(saved) == self.count(tenant_id)

        return _LOCAL.get(
            (*self._index_key, tenant_id), build, self.snapshot_path(tenant_id), valid=still_fits
        )

    def collection_rows(self) -> int:
        """Rows in the whole collection, every tenant (cheap: no scan)."""
        stats = self._call(
            "collection stats", self._client.get_collection_stats, self.collection_name
        )
        return int(stats["row_count"])

    def _hits(self, found: list[Scored]) -> list[Hit]:
        if not found:
            return []
        rows = self._call(
            "get",
            self._client.get,
            self.collection_name,
            ids=[s.pk for s in found],
            output_fields=_OUTPUT_FIELDS,
        )
        by_pk = {row["pk"]: row for row in rows}
        return [Hit(_chunk(by_pk[s.pk]), s.score, s.vector) for s in found if s.pk in by_pk]

    def _search(
        self, what: str, data: list[Any], field_name: str, params: dict[str, Any], expr: str, k: int
    ) -> list[Hit]:
        result = self._call(
            what,
            self._client.search,
            self.collection_name,
            data,
            anns_field=field_name,
            limit=k,
            filter=expr,
            output_fields=[*_OUTPUT_FIELDS, "dense"],
            search_params=params,
        )
        # Milvus Lite reports BM25 as a negated distance; report the score itself.
        sign = (
            -1.0 if field_name == "sparse" and result[0] and result[0][0]["distance"] < 0 else 1.0
        )
        return [
            Hit(
                _chunk(h["entity"]),
                sign * float(h["distance"]),
                np.asarray(h["entity"]["dense"], dtype=np.float32),
            )
            for h in result[0]
        ]
