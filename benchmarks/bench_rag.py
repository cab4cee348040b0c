"""RAG speed: ingest pages/s (text and OCR), hybrid query p50/p95 and recall@5 at 10k and 100k.

Scale data are synthetic, and say so: each chunk joins three phrases drawn from a pool of
generated radiology-style phrases. The phrases are embedded with the real MiniLM; a chunk's
vector is the normalised mean of its phrases' vectors (embedding 100k texts with MiniLM on a
few shared CPU cores takes far too long for a benchmark). A query joins two phrases of one
chunk, is embedded for real at query time, and that chunk is its gold answer. The baseline is
an exact brute-force numpy dense scan over the same vectors, in the same run. Hybrid search
takes its BM25 list from the in-process bm25s index (the default on a Milvus Lite file); at
10k chunks Milvus Lite's own BM25 is measured beside it. Phrase vectors and the Milvus Lite
files are cached under ~/.cache/medgraph/bench_rag and reused.

Run: `python -m benchmarks rag`.
"""

from __future__ import annotations

import os
import random
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pymupdf
from rich.console import Console
from rich.table import Table

from benchmarks.machine import describe
from tools.models.embedder import MiniLMEmbedder
from tools.rag.chunking import Chunk
from tools.rag.hybrid_search import HybridRetriever, SearchMode
from tools.rag.ingest import Ingestor
from tools.rag.local_index import LocalIndex
from tools.rag.store import ChunkStore

CACHE = Path.home() / ".cache" / "medgraph" / "bench_rag"
VERSION = "v1"
SCALES = {10_000: 100, 100_000: 100}  # chunks: queries
MILVUS_BM25_SCALES = {10_000}  # Milvus Lite's own BM25 takes ~2 s per query at 100k
PHRASES = 3000
WARMUP = 5
TEXT_PAGES = 12
OCR_PAGES = 2
INSERT_BATCH = 2000

_FINDINGS = (
    "pleural effusion", "pneumothorax", "consolidation", "atelectasis", "a pulmonary nodule",
    "interstitial oedema", "cardiomegaly", "a hilar mass", "a rib fracture", "free gas",
    "a widened mediastinum", "a misplaced tube", "bronchiectasis", "a cavitating lesion",
    "emphysema", "a calcified granuloma", "a lung abscess", "a hiatus hernia",
)  # fmt: skip
_PLACES = (
    "right upper zone", "left lower lobe", "lingula", "middle lobe", "left apex",
    "right costophrenic angle", "retrocardiac region", "left hilum", "right paratracheal stripe",
    "lateral chest wall", "azygo-oesophageal line", "subpulmonic space",
)  # fmt: skip
_ACTIONS = (
    "is reported to the referrer within one hour", "needs comparison with the previous film",
    "is followed up with CT", "prompts a lateral view", "is discussed at the weekly meeting",
    "triggers the critical result pathway", "is rechecked after the drain is placed",
    "is described with the silhouette sign", "is measured on the PA projection",
    "is coded for the cancer tracking team", "is confirmed by ultrasound",
)  # fmt: skip
_CONTEXTS = (
    "in ventilated patients", "after central line insertion", "on supine portable films",
    "in outpatients over 65", "during the night shift", "in smokers over 50",
    "after cardiac surgery", "in the emergency department", "on the cancer pathway",
)  # fmt: skip


def _phrases(n: int, rng: random.Random) -> list[str]:
    seen: set[str] = set()
    while len(seen) < n:
        seen.add(
            f"{rng.choice(_FINDINGS).capitalize()} in the {rng.choice(_PLACES)} "
            f"{rng.choice(_CONTEXTS)} {rng.choice(_ACTIONS)} (protocol {rng.randrange(10_000)})."
        )
    return sorted(seen)


def _embed_one_by_one(embedder: MiniLMEmbedder, texts: list[str]) -> np.ndarray:
    """Unpadded single-text forwards: the fastest MiniLM path on CPU."""
    return np.stack([embedder.embed_one(t) for t in texts])


@dataclass(frozen=True)
class Corpus:
    """Synthetic chunks: phrase ids per chunk, their texts, and their vectors."""

    phrases: list[str]
    phrase_vectors: np.ndarray
    members: np.ndarray  # [n, 3] phrase ids

    def text(self, i: int) -> str:
        return " ".join(self.phrases[p] for p in self.members[i])

    def vectors(self) -> np.ndarray:
        mean = self.phrase_vectors[self.members].mean(axis=1)
        return (mean / np.linalg.norm(mean, axis=1, keepdims=True)).astype(np.float32)


def _corpus(embedder: MiniLMEmbedder, n: int) -> Corpus:
    rng = random.Random(0)
    phrases = _phrases(PHRASES, rng)
    cached = CACHE / f"phrases-{VERSION}-{PHRASES}.npy"
    if cached.is_file():
        vectors = np.load(cached)
    else:
        vectors = _embed_one_by_one(embedder, phrases)
        CACHE.mkdir(parents=True, exist_ok=True)
        np.save(cached, vectors)
    members = np.random.default_rng(0).integers(0, PHRASES, size=(n, 3))
    return Corpus(phrases, vectors, members)


def _store(corpus: Corpus, n: int) -> ChunkStore:
    """The cached Milvus Lite collection of n synthetic chunks, built on first use."""
    path = CACHE / f"milvus-{VERSION}-{n}.db"
    store = ChunkStore(str(path), collection_name=f"bench_{n}")
    if store.count("bench") == n:
        store.flush()
        return store
    store.delete_collection("bench", "synthetic")
    vectors = corpus.vectors()
    rows = []
    for i in range(n):
        rows.append(
            Chunk(f"{i:016x}", "synthetic", f"doc{i // 50}.md", "Synthetic", None,
                  ("Synthetic", f"Part {i % 50}"), i % 50, corpus.text(i), f"{i:016x}")
        )  # fmt: skip
    started = time.perf_counter()
    for start in range(0, n, INSERT_BATCH):
        batch = rows[start : start + INSERT_BATCH]
        store.insert("bench", batch, vectors[start : start + INSERT_BATCH], file_hash="synthetic")
    store.flush()
    print(f"built the {n:,}-chunk collection in {time.perf_counter() - started:.0f} s")
    return store


def _percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered) * 1000, ordered[int(0.95 * (len(ordered) - 1))] * 1000


def _timed(
    fn: Callable[[str], list[str]], queries: list[str]
) -> tuple[list[list[str]], list[float]]:
    for q in queries[:WARMUP]:
        fn(q)
    results, times = [], []
    for q in queries:
        started = time.perf_counter()
        results.append(fn(q))
        times.append(time.perf_counter() - started)
    return results, times


def _rss_mb() -> float:
    """Resident memory of this process and its children (Milvus Lite), from /proc."""
    total = 0
    pids = [str(os.getpid())]
    for task in Path(f"/proc/{os.getpid()}/task").iterdir():
        pids += (task / "children").read_text().split()
    for pid in pids:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
    return total / 1024


def _size(path: Path) -> int:
    """Bytes under a file or folder."""
    files = [path] if path.is_file() else path.rglob("*")
    return sum(f.stat().st_size for f in files if f.is_file())


def _snapshot_load_s(store: ChunkStore) -> float:
    """Seconds a new process spends on its first search before searching: load the saved index
    and compare its stamp with the collection's row count (Milvus Lite keeps its file locked
    until this process exits, so the load is timed here rather than in a child process)."""
    snapshot = store.snapshot_path("bench")
    assert snapshot is not None
    started = time.perf_counter()
    index = LocalIndex.load(snapshot)
    rows = store.collection_rows()
    assert index is not None and index.stamp == rows
    return time.perf_counter() - started


def _scale_rows(embedder: MiniLMEmbedder, n: int, n_queries: int) -> list[tuple[str, ...]]:
    corpus = _corpus(embedder, n)
    rss_before = _rss_mb()
    store = _store(corpus, n)
    shutil.rmtree(f"{store.uri}.search", ignore_errors=True)  # measure a cold index build
    rss_after = _rss_mb()
    matrix = corpus.vectors()
    rng = np.random.default_rng(1)
    targets = rng.choice(n, size=n_queries, replace=False)
    queries = [
        " ".join(corpus.phrases[p] for p in corpus.members[t][rng.permutation(3)[:2]])
        for t in targets
    ]
    gold = [f"{t:016x}" for t in targets]

    def exact(query: str) -> list[str]:
        scores = matrix @ embedder.embed_one(query)
        top = np.argpartition(-scores, 5)[:5]
        return [f"{i:016x}" for i in top[np.argsort(-scores[top])]]

    rows = []
    exact_results, exact_times = _timed(exact, queries)
    runs: list[tuple[str, list[list[str]], list[float]]] = [
        ("numpy exact dense (baseline)", exact_results, exact_times)
    ]
    rss_before_bm25 = _rss_mb()
    started = time.perf_counter()
    store.bm25_search("bench", queries[0], 1)
    build_s = time.perf_counter() - started
    rss_bm25 = _rss_mb() - rss_before_bm25
    milvus = ChunkStore(store.uri, collection_name=store.collection_name, search_backend="milvus")
    variants: list[tuple[str, ChunkStore, SearchMode]] = [
        ("dense, in-process exact scan (default)", store, "dense"),
        ("hybrid, in-process: exact dense + bm25s, RRF (default)", store, "hybrid"),
        ("dense, Milvus Lite HNSW ef=64", milvus, "dense"),
    ]
    if n in MILVUS_BM25_SCALES:
        variants.append(("hybrid, Milvus Lite: HNSW + its BM25, RRF", milvus, "hybrid"))
    for name, source, mode in variants:
        retriever = HybridRetriever(source, embedder, mode=mode)
        results, times = _timed(
            lambda q, r=retriever: [c.chunk.chunk_id for c in r.search(q, "bench", k=5).chunks],
            queries,
        )
        runs.append((name, results, times))
    milvus.close()
    base_p95 = _percentiles(exact_times)[1]
    for name, results, times in runs:
        p50, p95 = _percentiles(times)
        recall = sum(g in r for g, r in zip(gold, results, strict=True)) / len(gold)
        overlap = sum(
            len(set(r) & set(e)) / 5 for r, e in zip(results, exact_results, strict=True)
        ) / len(results)
        rows.append((f"{n:,}", name, f"{p50:.1f}", f"{p95:.1f}", f"{p95 / base_p95:.2f}x",
                     f"{recall:.3f}", f"{overlap:.3f}"))  # fmt: skip
    disk = _size(Path(store.uri))
    saved = _size(Path(f"{store.uri}.search"))
    rows.append((f"{n:,}", f"memory: vectors {matrix.nbytes / 2**20:.0f} MiB, Milvus Lite file "
                 f"{disk / 2**20:.0f} MiB, saved in-process index {saved / 2**20:.0f} MiB, "
                 f"RSS +{rss_after - rss_before:.0f} MiB on open",
                 "", "", "", "", ""))  # fmt: skip
    reopened_s = _snapshot_load_s(store)
    store.close()
    rows.append((f"{n:,}", f"in-process index: built on the first query in {build_s:.1f} s "
                 f"(RSS +{rss_bm25:.0f} MiB); a new process loads its snapshot in "
                 f"{reopened_s:.1f} s", "", "", "", "", ""))  # fmt: skip
    return rows


def _ingest_rows(embedder: MiniLMEmbedder) -> list[tuple[str, ...]]:
    """Pages/s for a generated text PDF and for scanned (OCR) pages, end to end into Milvus."""
    rng = random.Random(2)
    phrases = _phrases(400, rng)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for kind, pages, scanned in (("text PDF", TEXT_PAGES, False), ("OCR", OCR_PAGES, True)):
            path = Path(tmp) / f"{kind.replace(' ', '_')}.pdf"
            _write_pdf(path, [phrases[i * 12 : (i + 1) * 12] for i in range(pages)], scanned)
            store = ChunkStore(str(Path(tmp) / f"{kind[:3]}.db"))
            started = time.perf_counter()
            report = Ingestor(store, embedder).ingest([str(path)], tenant_id="bench")
            elapsed = time.perf_counter() - started
            store.close()
            outcome = report.outcomes[0]
            rows.append((kind, str(outcome.pages), str(outcome.chunks), f"{elapsed:.1f}",
                         f"{outcome.pages / elapsed:.2f}"))  # fmt: skip
    return rows


def _write_pdf(path: Path, pages: list[list[str]], scanned: bool) -> None:
    doc = pymupdf.open()
    for n, lines in enumerate(pages, start=1):
        page = doc.new_page(width=595, height=842)
        page.insert_text((56, 80), f"Section {n}", fontsize=16)
        page.insert_textbox(pymupdf.Rect(56, 100, 540, 800), "\n\n".join(lines), fontsize=11)
    if scanned:
        images = pymupdf.open()
        for page in doc:
            target = images.new_page(width=page.rect.width, height=page.rect.height)
            target.insert_image(target.rect, pixmap=page.get_pixmap(dpi=200))
        doc.close()
        doc = images
    doc.save(path)
    doc.close()


def main() -> None:
    """Print the ingest table and the query table (10k and 100k chunks)."""
    console = Console()
    if not console.is_terminal:
        console.width = 150
    embedder = MiniLMEmbedder.load("cpu")
    caption = describe()
    ingest = Table(title="RAG ingest (load + chunk + MiniLM + Milvus Lite insert)", caption=caption)
    for column in ("input", "pages", "chunks", "seconds", "pages/s"):
        ingest.add_column(column)
    for row in _ingest_rows(embedder):
        ingest.add_row(*row)
    console.print(ingest)
    for n, n_queries in SCALES.items():
        query = Table(
            title=f"RAG query at {n:,} chunks: embed + search (+ fusion); synthetic chunks, "
            "real MiniLM queries",
            caption=f"{caption}; {n_queries} queries after {WARMUP} warm-up; "
            "ratio = p95 / numpy p95",
        )
        for column in ("chunks", "method", "p50 ms", "p95 ms", "p95 ratio", "recall@5",
                       "top-5 overlap with exact"):  # fmt: skip
            query.add_column(column)
        for row in _scale_rows(embedder, n, n_queries):
            query.add_row(*row)
        console.print(query)
