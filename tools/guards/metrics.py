"""Guard decisions and their counters and latencies, per guard and outcome."""

from __future__ import annotations

import threading
from collections import Counter, defaultdict, deque
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from tools.guards.policy import Severity

Action = Literal["pass", "fix", "block", "escalate", "error"]
Stage = Literal["input", "output", "model_call", "chunk"]


@dataclass(frozen=True)
class GuardDecision:
    """What one guard decided about one text. `detail` never holds PHI or message text."""

    guard: str
    stage: Stage
    action: Action
    severity: Severity
    latency_ms: float
    route: str = "entry"
    reason: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def stops(self) -> bool:
        """Whether this decision stops the text (a block, an escalation, or a fail-closed fault)."""
        return self.action in ("block", "escalate") or (
            self.action == "error" and bool(self.detail.get("fail_closed", True))
        )


class GuardMetrics:
    """Thread-safe counters per (guard, action) and the last latencies per guard."""

    def __init__(self, window: int = 2048) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[tuple[str, str]] = Counter()
        self._latency: dict[str, deque[float]] = defaultdict(lambda: deque(maxlen=window))

    def observe(self, decision: GuardDecision) -> None:
        """Count a decision and keep its latency."""
        with self._lock:
            self._counts[(decision.guard, decision.action)] += 1
            self._latency[decision.guard].append(decision.latency_ms)

    def snapshot(self) -> dict[str, dict[str, float]]:
        """Per guard: count per action, and p50/p95 latency in ms."""
        with self._lock:
            out: dict[str, dict[str, float]] = {}
            for (guard, action), count in self._counts.items():
                out.setdefault(guard, {})[action] = float(count)
            for guard, values in self._latency.items():
                array = np.fromiter(values, dtype=np.float64)
                out.setdefault(guard, {})["p50_ms"] = float(np.percentile(array, 50))
                out[guard]["p95_ms"] = float(np.percentile(array, 95))
            return out
