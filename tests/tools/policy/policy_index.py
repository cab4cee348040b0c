"""The real policy index for tests: MiniLM + Milvus Lite over the shipped corpus, built once."""

from __future__ import annotations

import atexit
import shutil
import tempfile
from functools import lru_cache
from pathlib import Path

from tests.tools.rag.corpus import embedder
from tools.policy.corpus import PolicyCorpus
from tools.policy.index import index_policies
from tools.rag.hybrid_search import HybridRetriever
from tools.rag.store import ChunkStore


@lru_cache(maxsize=1)
def policy_retriever() -> HybridRetriever:
    """A retriever over the indexed policy corpus, shared by every test of this process."""
    folder = Path(tempfile.mkdtemp(prefix="policy-index-"))
    store = ChunkStore(str(folder / "rag.db"))
    index_policies(store, embedder(), PolicyCorpus.load())

    def close() -> None:
        store.close()
        shutil.rmtree(folder, ignore_errors=True)

    atexit.register(close)
    return HybridRetriever(store, embedder())
