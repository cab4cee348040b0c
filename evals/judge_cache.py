"""Judge results cached on disk by content hash: same judge, rubric and texts, same verdict.

The key hashes the judge's identity (model and endpoint, or the offline recipe), the rubric's
content digest and the case texts, so a changed rubric, model or answer is judged afresh.
Verdicts with an error are never cached: a failed endpoint is retried on the next run.

Usage:
    judge = CachingJudge(LlmJudge(transport), JudgeCache(settings.cache_dir / "evals" / "judge"))
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, Literal

from evals.judge import Judge, JudgeCase, Preference, Verdict
from evals.rubric import Rubric


class JudgeCache:
    """JSON files under `directory/<2 hex>/<sha256>.json`, written atomically."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.hits = 0
        self.misses = 0

    @staticmethod
    def key(*parts: Any) -> str:
        """SHA-256 of the parts' canonical JSON."""
        blob = json.dumps(parts, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()

    def _path(self, key: str) -> Path:
        return self.directory / key[:2] / f"{key}.json"

    def get(self, key: str) -> dict[str, Any] | None:
        """The stored value, or None (an unreadable entry counts as absent)."""
        path = self._path(key)
        try:
            value = json.loads(path.read_text("utf-8"))
        except (OSError, ValueError):
            self.misses += 1
            return None
        self.hits += 1
        return value

    def put(self, key: str, value: dict[str, Any]) -> None:
        """Store a value (write to a temporary file, then rename)."""
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(value, ensure_ascii=False), "utf-8")
        tmp.replace(path)


class CachingJudge:
    """Wraps any judge: answers from the cache when the same question was judged before."""

    def __init__(self, inner: Judge, cache: JudgeCache) -> None:
        self._inner = inner
        self._cache = cache
        self.label = inner.label
        self.kind: Literal["llm", "offline"] = inner.kind
        self.identity = inner.identity

    async def score(self, case: JudgeCase, rubric: Rubric) -> Verdict:
        """The cached verdict, or the inner judge's (stored unless it failed)."""
        key = self._cache.key("score", self.identity, rubric.digest, _texts(case))
        stored = self._cache.get(key)
        if stored is not None:
            return Verdict.model_validate({**stored, "item_id": case.item_id, "cached": True})
        verdict = await self._inner.score(case, rubric)
        if verdict.error is None:
            self._cache.put(key, verdict.model_dump(mode="json"))
        return verdict

    async def prefer(self, a: JudgeCase, b: JudgeCase, rubric: Rubric) -> Preference:
        """The cached preference, or the inner judge's (stored unless a call failed)."""
        key = self._cache.key("prefer", self.identity, rubric.digest, _texts(a), _texts(b))
        stored = self._cache.get(key)
        if stored is not None:
            return Preference.model_validate({**stored, "item_id": a.item_id, "cached": True})
        preference = await self._inner.prefer(a, b, rubric)
        if preference.error is None:
            self._cache.put(key, preference.model_dump(mode="json"))
        return preference


def _texts(case: JudgeCase) -> dict[str, Any]:
    """The case's content, without its id (same texts, same judgement)."""
    return case.model_dump(exclude={"item_id"})
