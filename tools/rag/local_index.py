"""In-process search over one tenant's chunks: exact dense scan (numpy) and BM25 (bm25s).

Milvus Lite 3.x is pure Python: at 100k chunks its HNSW search took about 150 ms and its BM25
about 1.5 s per query on 2 cores. This index holds the same vectors in one float32 matrix (an
exact inner-product scan takes about 8 ms at 100k) and the same texts in a scipy sparse BM25
matrix (a few ms), so a Milvus Lite store answers both lists in process. It is derived data:
`LocalIndexCache` builds it from the chunk store on first use and drops it whenever the store
writes that tenant's chunks.

The BM25 analyzer mirrors the Milvus collection's: Unicode word tokens (single characters
kept), lower case, Lucene's English stop words, Snowball English stemming (PyStemmer). Scoring
is Lucene's BM25 with Milvus's defaults, k1 = 1.2 and b = 0.75.

Usage:
    row = IndexRow("acme:c1", "guides", "a.md", "Pleural effusion…", vector)
    index = LocalIndex.build([row], dim=384)
    index.bm25("blunted costophrenic angle", k=20)          # [Scored("acme:c1", 3.1, …), …]
    index.dense(query_vector, k=20, collection="guides")    # [Scored("acme:c1", 0.82, …), …]
"""

from __future__ import annotations

import json
import logging
import shutil
import threading
import uuid
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from pathlib import Path

import bm25s
import numpy as np
import Stemmer

K1 = 1.2
B = 0.75
# Lucene's English stop set, as Milvus's "_english_" stop filter uses.
STOP_WORDS = (
    "a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "if", "in", "into", "is", "it",
    "no", "not", "of", "on", "or", "such", "that", "the", "their", "then", "there", "these",
    "they", "this", "to", "was", "will", "with",
)  # fmt: skip
WORD = r"(?u)\b\w+\b"
SNAPSHOT_VERSION = 1
_log = logging.getLogger(__name__)
# bm25s sets its own logger to DEBUG on import, so every index build printed "Building index
# from IDs objects" into the chat; its warnings still come through.
logging.getLogger("bm25s").setLevel(logging.WARNING)


@dataclass(frozen=True)
class Scored:
    """One chunk a search found: its key, its score there and its stored vector."""

    pk: str
    score: float
    vector: np.ndarray


@dataclass(frozen=True)
class IndexRow:
    """What the index needs of one chunk: its key, scope fields, analysed text and vector."""

    pk: str
    collection: str
    source: str
    text: str
    vector: np.ndarray


def _tokenizer() -> bm25s.tokenization.Tokenizer:
    return bm25s.tokenization.Tokenizer(
        lower=True, splitter=WORD, stopwords=list(STOP_WORDS), stemmer=Stemmer.Stemmer("english")
    )


class LocalIndex:
    """Dense and BM25 scores of every chunk of one tenant, narrowed by collection or source."""

    def __init__(
        self,
        tokenizer: bm25s.tokenization.Tokenizer,
        bm25: bm25s.BM25 | None,
        pks: list[str],
        scopes: tuple[list[str], list[str]],
        vectors: np.ndarray,
        stamp: int | None = None,
    ) -> None:
        self.stamp = stamp
        self._tokenizer = tokenizer
        self._words = {i: w for w, i in tokenizer.get_vocab_dict().items()}
        self._bm25 = bm25
        self._pks = pks
        self._collections = np.array(scopes[0], dtype=object)
        self._sources = np.array(scopes[1], dtype=object)
        self._vectors = vectors

    def __len__(self) -> int:
        return len(self._pks)

    @classmethod
    def build(cls, rows: Sequence[IndexRow], dim: int, stamp: int | None = None) -> LocalIndex:
        """Stack the vectors; tokenise, stem and index the texts (~6 s per 100k on 2 cores).

        `stamp` is the caller's cheap fingerprint of the store the rows came from, saved with
        the index so that a later process can check it without reading the rows again.
        """
        tokenizer = _tokenizer()
        bm25: bm25s.BM25 | None = None
        if rows:
            ids = tokenizer.tokenize([r.text for r in rows], return_as="ids", show_progress=False)
            bm25 = bm25s.BM25(k1=K1, b=B, method="lucene")
            bm25.index(
                bm25s.tokenization.Tokenized(ids=ids, vocab=tokenizer.get_vocab_dict()),
                show_progress=False,
            )
        vectors = (
            np.stack([r.vector for r in rows]).astype(np.float32)
            if rows
            else np.zeros((0, dim), dtype=np.float32)
        )
        scopes = ([r.collection for r in rows], [r.source for r in rows])
        return cls(tokenizer, bm25, [r.pk for r in rows], scopes, vectors, stamp)

    def save(self, folder: Path) -> None:
        """Write the index into `folder` (which must not exist yet)."""
        folder.mkdir(parents=True)
        np.save(folder / "vectors.npy", self._vectors)
        rows = {
            "version": SNAPSHOT_VERSION,
            "stamp": self.stamp,
            "pks": self._pks,
            "collections": self._collections.tolist(),
            "sources": self._sources.tolist(),
        }
        (folder / "rows.json").write_text(json.dumps(rows), encoding="utf-8")
        if self._bm25 is not None:
            self._bm25.save(str(folder / "bm25"), show_progress=False)
            self._tokenizer.save_vocab(str(folder / "bm25"))

    @classmethod
    def load(cls, folder: Path) -> LocalIndex | None:
        """The index saved in `folder`; None when there is none or it cannot be read."""
        try:
            rows = json.loads((folder / "rows.json").read_text(encoding="utf-8"))
            if rows.get("version") != SNAPSHOT_VERSION:
                return None
            vectors = np.load(folder / "vectors.npy")
            tokenizer = _tokenizer()
            bm25: bm25s.BM25 | None = None
            if (folder / "bm25").is_dir():
                bm25 = bm25s.BM25.load(str(folder / "bm25"), show_progress=False)
                tokenizer.load_vocab(str(folder / "bm25"))
        except (OSError, ValueError, KeyError):
            return None
        if len(vectors) != len(rows["pks"]):
            return None
        scopes = (rows["collections"], rows["sources"])
        return cls(tokenizer, bm25, rows["pks"], scopes, vectors, rows.get("stamp"))

    def dense(
        self,
        query: np.ndarray,
        k: int,
        *,
        collection: str | None = None,
        sources: Sequence[str] | None = None,
    ) -> list[Scored]:
        """The top-k chunks in scope by inner product, best first (an exact scan)."""
        scores = self._vectors @ query.astype(np.float32)
        return self._top(scores, self._scope(collection, sources), k, positive=False)

    def bm25(
        self,
        query: str,
        k: int,
        *,
        collection: str | None = None,
        sources: Sequence[str] | None = None,
    ) -> list[Scored]:
        """The top-k chunks in scope with a positive BM25 score, best first."""
        if self._bm25 is None:
            return []
        ids = self._tokenizer.tokenize(
            [query], update_vocab=False, return_as="ids", show_progress=False
        )[0]
        known = [w for w in (self._words[i] for i in ids) if w in self._bm25.vocab_dict]
        if not known:
            return []
        scores = self._bm25.get_scores(known)
        return self._top(scores, self._scope(collection, sources), k, positive=True)

    def _scope(self, collection: str | None, sources: Sequence[str] | None) -> np.ndarray | None:
        mask: np.ndarray | None = None
        if collection is not None:
            mask = self._collections == collection
        if sources is not None:
            in_sources = np.isin(self._sources, list(sources))
            mask = in_sources if mask is None else mask & in_sources
        return mask

    def _top(
        self, scores: np.ndarray, mask: np.ndarray | None, k: int, *, positive: bool
    ) -> list[Scored]:
        candidates = np.arange(len(scores)) if mask is None else np.flatnonzero(mask)
        if positive:
            candidates = candidates[scores[candidates] > 0.0]
        if k < 1 or not len(candidates):
            return []
        if len(candidates) > k:
            part = np.argpartition(-scores[candidates], k - 1)[:k]
            candidates = candidates[part]
        ordered = candidates[np.lexsort((candidates, -scores[candidates]))]
        return [Scored(self._pks[i], float(scores[i]), self._vectors[i]) for i in ordered]


class LocalIndexCache:
    """Per-key indexes loaded or built on first use and dropped on write; safe across threads.

    With a snapshot folder, a key's index is saved there after a build and loaded from there
    after a restart. The invariant is that a snapshot exists only while it matches the store:
    writers call `invalidate` (which deletes it) before and after every write, and a build
    that overlaps a write is used for the query that asked for it but neither kept nor saved.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._indexes: dict[Hashable, LocalIndex] = {}
        self._generations: dict[Hashable, int] = {}
        self._gates: dict[Hashable, threading.Lock] = {}

    def get(
        self,
        key: Hashable,
        build: Callable[[], LocalIndex],
        snapshot: Path | None = None,
        valid: Callable[[LocalIndex], bool] = lambda index: True,
    ) -> LocalIndex:
        """The index for `key`: cached, else loaded from `snapshot` if `valid`, else built.

        One thread per key loads or builds; the others wait for it rather than repeat it.
        """
        with self._lock:
            index = self._indexes.get(key)
            if index is not None:
                return index
            gate = self._gates.setdefault(key, threading.Lock())
        with gate:
            with self._lock:
                index = self._indexes.get(key)
                generation = self._generations.get(key, 0)
            if index is not None:
                return index
            return self._make(key, generation, build, snapshot, valid)

    def _make(
        self,
        key: Hashable,
        generation: int,
        build: Callable[[], LocalIndex],
        snapshot: Path | None,
        valid: Callable[[LocalIndex], bool],
    ) -> LocalIndex:
        loaded = LocalIndex.load(snapshot) if snapshot is not None else None
        index = loaded if loaded is not None and valid(loaded) else build()
        staged: tuple[Path, Path] | None = None
        if snapshot is not None and index is not loaded:
            temp = snapshot.with_name(f"{snapshot.name}.{uuid.uuid4().hex}.tmp")
            try:
                index.save(temp)
                staged = (temp, snapshot)
            except OSError as exc:
                shutil.rmtree(temp, ignore_errors=True)
                _log.warning("search index snapshot not saved to %s: %s", snapshot, exc)
        with self._lock:
            current = self._generations.get(key, 0) == generation
            if current:
                self._indexes[key] = index
            if staged is not None:
                temp, target = staged
                if current:
                    shutil.rmtree(target, ignore_errors=True)
                    temp.rename(target)
                else:
                    shutil.rmtree(temp, ignore_errors=True)
        return index

    def invalidate(self, key: Hashable, snapshot: Path | None = None) -> None:
        """Forget the index for `key` and delete its snapshot; the next `get` rebuilds it."""
        with self._lock:
            self._generations[key] = self._generations.get(key, 0) + 1
            self._indexes.pop(key, None)
            if snapshot is not None:
                shutil.rmtree(snapshot, ignore_errors=True)
