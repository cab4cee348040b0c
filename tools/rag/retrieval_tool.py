"""The `search_documents` LangChain tool: a tenant's chunks with score and citation label.

Usage:
    tool = make_retrieval_tool(retriever, tenant_id="acme")
    hits = tool.invoke({"query": "costophrenic angle", "k": 3})  # list of dicts

The tenant is bound when the tool is built, never taken from the model's arguments.
"""

from __future__ import annotations

from langchain_core.tools import StructuredTool
from pydantic import BaseModel, Field

from tools.rag.hybrid_search import HybridRetriever, SearchFilters


class DocumentSearchInput(BaseModel):
    """Arguments of `search_documents`."""

    query: str = Field(min_length=1, max_length=2000, description="what to look for")
    k: int = Field(default=5, ge=1, le=20, description="how many chunks to return")
    collection: str | None = Field(default=None, description="only this document collection")


class DocumentHit(BaseModel):
    """One retrieved chunk as the tool returns it."""

    chunk_id: str
    label: str = Field(description="citation label, e.g. [guide.pdf p.3 §2.1 Heart size]")
    score: float = Field(description="fused RRF score (higher is better)")
    similarity: float = Field(description="cosine between query and chunk embeddings")
    source: str
    page: int | None
    section: list[str]
    text: str


def make_retrieval_tool(retriever: HybridRetriever, tenant_id: str) -> StructuredTool:
    """A `search_documents` tool over one tenant's ingested documents."""

    def search_documents(query: str, k: int = 5, collection: str | None = None) -> list[dict]:
        result = retriever.search(query, tenant_id, k=k, filters=SearchFilters(collection))
        return [
            DocumentHit(
                chunk_id=item.chunk.chunk_id,
                label=item.label,
                score=item.score,
                similarity=item.similarity,
                source=item.chunk.source,
                page=item.chunk.page,
                section=list(item.chunk.section),
                text=item.chunk.body,
            ).model_dump()
            for item in result.chunks
        ]

    return StructuredTool.from_function(
        func=search_documents,
        name="search_documents",
        description=(
            "Search the user's ingested documents (hybrid dense + BM25). Returns chunks with a "
            "citation label to cite after each claim that uses them."
        ),
        args_schema=DocumentSearchInput,
    )
