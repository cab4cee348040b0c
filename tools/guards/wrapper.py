"""`guarded(...)`: the one wrapper through which code calls a model (LLM roles and local models).

Before the call, every outgoing text is screened for PHI: identifiers still present (from
document chunks or tool outputs, say) become call-local placeholders, numbered after any
placeholder already in the texts, so no PHI value ever reaches a model request. After the call,
a text result is scrubbed of those values and of any new identifier; a structured result that
carries one is refused. A fault in the redactor refuses the call (fail closed).

Usage:
    guard = ModelCallGuard(PhiRedactor())
    text = guarded(guard, "composer", ["prompt", "user text"], lambda texts: call_model(texts))
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from pydantic import BaseModel

from state.errors import GuardBlocked
from state.schema import PLACEHOLDER, PhiVault
from tools.guards.metrics import GuardDecision, GuardMetrics
from tools.guards.output_guards import scrub_leaks
from tools.guards.phi import PhiRedactor, Redaction
from tools.guards.policy import GuardPolicy, profile

T = TypeVar("T")
DecisionObserver = Callable[[GuardDecision], None]


class OutputLeak(GuardBlocked):
    """A model's structured output carried a redacted value or a new identifier."""


@dataclass
class CallScreen:
    """The redacted request texts and the call-local vault of what was redacted."""

    texts: list[str]
    vault: PhiVault
    decisions: list[GuardDecision] = field(default_factory=list)


def _seeded_vault(texts: Sequence[str]) -> PhiVault:
    """A vault whose numbering starts after every placeholder already in `texts`."""
    counters: dict[str, int] = {}
    for text in texts:
        for match in PLACEHOLDER.finditer(text):
            counters[match.group(1)] = max(counters.get(match.group(1), 0), int(match.group(2)))
    return PhiVault(counters=counters)


class ModelCallGuard:
    """The checks `guarded` applies around one model call."""

    def __init__(
        self,
        redactor: PhiRedactor,
        *,
        policies: dict[str, GuardPolicy] | None = None,
        metrics: GuardMetrics | None = None,
        observer: DecisionObserver | None = None,
    ) -> None:
        self._redactor = redactor
        self._policies = policies or profile("prod")
        self.metrics = metrics or GuardMetrics()
        self._observer = observer
        self._trusted: OrderedDict[bytes, None] = OrderedDict()
        self._lock = threading.Lock()

    def trust(self, redacted: str) -> None:
        """Remember a text the input guard's redactor produced, so it is not screened twice."""
        with self._lock:
            self._trusted[hashlib.sha256(redacted.encode()).digest()] = None
            while len(self._trusted) > 256:
                self._trusted.popitem(last=False)

    def _is_trusted(self, text: str) -> bool:
        with self._lock:
            return hashlib.sha256(text.encode()).digest() in self._trusted

    def _decide(
        self, guard: str, route: str, action: str, started: float, detail: dict[str, int]
    ) -> GuardDecision:
        decision = GuardDecision(
            guard=guard,
            stage="model_call",
            action=action,  # type: ignore[arg-type]
            severity=self._policies[guard].severity,
            latency_ms=(time.perf_counter() - started) * 1000,
            route=route,
            detail=dict(detail),
        )
        self.metrics.observe(decision)
        if self._observer is not None and action != "pass":
            self._observer(decision)
        return decision

    def screen_request(self, route: str, texts: Sequence[str]) -> CallScreen:
        """Redact PHI from the outgoing texts; a redactor fault refuses the call."""
        started = time.perf_counter()
        vault = _seeded_vault(texts)
        try:
            redactions = [
                Redaction(text, {})
                if self._is_trusted(text)
                else self._redactor.redact(text, vault)
                for text in texts
            ]
        except Exception as exc:
            self._decide("phi", route, "error", started, {})
            raise GuardBlocked(
                f"the PHI check failed ({exc.__class__.__name__}); the {route} call was refused"
            ) from exc
        counts: dict[str, int] = {}
        for redaction in redactions:
            for kind, n in redaction.counts.items():
                counts[kind] = counts.get(kind, 0) + n
        decision = self._decide("phi", route, "fix" if counts else "pass", started, counts)
        return CallScreen([r.text for r in redactions], vault, [decision])

    def screen_text(self, route: str, screen: CallScreen, text: str) -> str:
        """Scrub a text result of the request's values and of new identifiers."""
        if not self._policies["pii_leakage"].applies(route):
            return text
        started = time.perf_counter()
        scrubbed, counts = scrub_leaks(self._redactor, text, screen.vault)
        self._decide("pii_leakage", route, "fix" if counts else "pass", started, counts)
        return scrubbed

    def screen_object(self, route: str, screen: CallScreen, result: BaseModel) -> None:
        """Refuse a structured result that carries a redacted value or a new identifier."""
        if not self._policies["pii_leakage"].applies(route):
            return
        started = time.perf_counter()
        _, counts = scrub_leaks(self._redactor, result.model_dump_json(), screen.vault)
        self._decide("pii_leakage", route, "block" if counts else "pass", started, counts)
        if counts:
            raise OutputLeak(f"the {route} model's structured output carried an identifier")


def guarded(
    guard: ModelCallGuard, route: str, texts: Sequence[str], call: Callable[[list[str]], T]
) -> T:
    """Call a model on screened texts, then screen its result; the only way to call a model."""
    screen = guard.screen_request(route, texts)
    result = call(screen.texts)
    if isinstance(result, str):
        return guard.screen_text(route, screen, result)  # type: ignore[return-value]
    if isinstance(result, BaseModel):
        guard.screen_object(route, screen, result)
    return result
