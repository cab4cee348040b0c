"""Keep the policy corpus ingested in its own collection of the documents store.

Usage:
    report = index_policies(store, embedder, PolicyCorpus.load())
    retriever.search("email a report?", POLICY_TENANT, filters=SearchFilters(POLICY_COLLECTION))

The corpus is MedGraph's own, shared by every tenant, so it lives under a reserved tenant id that
no user's documents use, in the `policy` collection. Re-indexing is cheap: files whose bytes did
not change are skipped, changed files are replaced, and files removed from the corpus are deleted.
"""

from __future__ import annotations

from state.errors import AssetError
from tools.policy.corpus import PolicyCorpus
from tools.rag.hybrid_search import Embedder
from tools.rag.ingest import Ingestor, IngestReport
from tools.rag.store import ChunkStore

POLICY_TENANT = "medgraph-policy"
POLICY_COLLECTION = "policy"


def index_policies(store: ChunkStore, embedder: Embedder, corpus: PolicyCorpus) -> IngestReport:
    """Bring the policy collection in line with the corpus files; any failure is an AssetError."""
    report = Ingestor(store, embedder).ingest(
        [str(corpus.directory)], tenant_id=POLICY_TENANT, collection=POLICY_COLLECTION
    )
    if report.failed:
        problems = "; ".join(f"{o.source}: {o.error}" for o in report.failed)
        raise AssetError(f"the policy corpus could not be indexed: {problems}")
    current = {path.name for path in corpus.directory.glob("*.md")}
    stale = [
        s.source for s in store.sources(POLICY_TENANT, POLICY_COLLECTION) if s.source not in current
    ]
    for source in stale:
        store.delete_source(POLICY_TENANT, POLICY_COLLECTION, source)
    if stale:
        store.flush()
    return report
