"""Run an agent's tool calls through one observer, so every call and its outcome is audited.

The observer receives a PHI-free report: the tool's name, a SHA-256 digest of its arguments,
the outcome, the latency and a small summary the caller chooses (counts, ids, never text).

Usage:
    tools = ToolCalls(observer=auditor.tool_call)
    chunks = tools.run("search_documents", lambda: retriever.search(q), args={"query": q},
                       summary=lambda hits: {"results": len(hits)})
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class ToolCallReport:
    """One tool call as the audit sees it: no argument values, no result text."""

    tool: str
    args_sha256: str
    outcome: Literal["ok", "error"]
    latency_ms: float
    error: str | None = None
    summary: dict[str, Any] = field(default_factory=dict)


ToolObserver = Callable[[ToolCallReport], None]


def args_digest(args: Mapping[str, object]) -> str:
    """SHA-256 over the canonical JSON of a tool's arguments."""
    canonical = json.dumps(args, sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


class ToolCalls:
    """Calls tools and tells the observer about each one, including the ones that fail."""

    def __init__(self, observer: ToolObserver | None = None) -> None:
        self._observer = observer

    def run(
        self,
        tool: str,
        call: Callable[[], T],
        *,
        args: Mapping[str, object],
        summary: Callable[[T], dict[str, Any]] | None = None,
    ) -> T:
        """Run `call()`, report it, and return its result (errors are reported, then re-raised)."""
        digest = args_digest(args)
        started = time.perf_counter()
        try:
            result = call()
        except Exception as exc:
            self._report(
                ToolCallReport(
                    tool=tool,
                    args_sha256=digest,
                    outcome="error",
                    latency_ms=(time.perf_counter() - started) * 1000,
                    error=exc.__class__.__name__,
                )
            )
            raise
        self._report(
            ToolCallReport(
                tool=tool,
                args_sha256=digest,
                outcome="ok",
                latency_ms=(time.perf_counter() - started) * 1000,
                summary=summary(result) if summary is not None else {},
            )
        )
        return result

    def _report(self, report: ToolCallReport) -> None:
        if self._observer is not None:
            self._observer(report)
