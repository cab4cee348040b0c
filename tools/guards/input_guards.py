"""The input guards of one turn: size and format, PHI redaction, self-harm, prompt injection.

Two guardrails-ai `Guard`s run in order. The first checks size and redacts PHI (fail closed);
only its redacted text goes on. The second screens that text for self-harm (escalate) and for
prompt injection: fast patterns over the whole text, then the learned classifier on the
message's MiniLM windows (shared with the router, so the message is embedded once) and, for
messages longer than one window, on the few sentences that address a model or give orders (an
attack diluted in a 256-token window still scores on its own sentence).

Usage:
    guards = InputGuards(redactor, SafetyLexicon(), InjectionPatterns(), classifier, shared,
                         policies=profile("prod"), max_chars=20_000)
    verdict = guards.check(text, vault)  # verdict.text is redacted; verdict.action decides
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from tools.guards.injection_classifier import InjectionClassifier
from tools.guards.injection_patterns import InjectionPatterns, cue_sentences
from tools.guards.metrics import GuardDecision, GuardMetrics
from tools.guards.phi import PhiRedactor, PhiVault
from tools.guards.policy import GuardPolicy
from tools.guards.shared_embeddings import SharedEmbeddings
from tools.guards.telemetry import LocalGuard
from tools.guards.validators import CheckOutcome, PhiRedaction, PromptInjection, SelfHarm, SizeLimit
from tools.guards.wrapper import ModelCallGuard
from tools.routing.safety_lexicon import SafetyLexicon

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")

InputAction = Literal["pass", "block", "escalate"]


@dataclass(frozen=True)
class InputVerdict:
    """The redacted text, what happens to the turn, and every guard's decision."""

    text: str
    action: InputAction
    decisions: list[GuardDecision]
    stopped_by: str | None = None


class InputGuards:
    """Entry guards of the graph; every model downstream sees only `verdict.text`.

    With a `call_guard`, the redacted text is marked as already screened, so the model-call
    wrapper does not redact it a second time.
    """

    def __init__(
        self,
        redactor: PhiRedactor,
        lexicon: SafetyLexicon,
        patterns: InjectionPatterns,
        classifier: InjectionClassifier | None,
        embeddings: SharedEmbeddings | None,
        *,
        policies: dict[str, GuardPolicy],
        max_chars: int,
        metrics: GuardMetrics | None = None,
        call_guard: ModelCallGuard | None = None,
    ) -> None:
        self._redactor = redactor
        self._lexicon = lexicon
        self._patterns = patterns
        self._classifier = classifier
        self._embeddings = embeddings
        self.max_chars = max_chars
        self.metrics = metrics or GuardMetrics()
        self._call_guard = call_guard
        self._first = LocalGuard().use(
            SizeLimit(self._size, policies["size"], "input"),
            PhiRedaction(self._phi, policies["phi"], "input"),
        )
        self._second = LocalGuard().use(
            SelfHarm(self._self_harm, policies["self_harm"], "input"),
            PromptInjection(self._injection, policies["injection"], "input"),
        )

    def _size(self, text: str, metadata: dict[str, Any]) -> CheckOutcome:
        if len(text) > self.max_chars:
            return CheckOutcome(
                "block", reason="too_long", detail={"chars": len(text), "limit": self.max_chars}
            )
        controls = len(_CONTROL.findall(text))
        if controls:
            return CheckOutcome("block", reason="control_characters", detail={"count": controls})
        return CheckOutcome("pass", detail={"chars": len(text)})

    def _phi(self, text: str, metadata: dict[str, Any]) -> CheckOutcome:
        redaction = self._redactor.redact(text, metadata["vault"])
        if not redaction.counts:
            return CheckOutcome("pass")
        return CheckOutcome("fix", text=redaction.text, reason="phi", detail=redaction.counts)

    def _self_harm(self, text: str, metadata: dict[str, Any]) -> CheckOutcome:
        hit = self._lexicon.check(text)
        if hit is None:
            return CheckOutcome("pass")
        return CheckOutcome(
            "escalate", reason=hit.category, detail={"category": hit.category, "tier": hit.tier}
        )

    def _injection(self, text: str, metadata: dict[str, Any]) -> CheckOutcome:
        hit = self._patterns.check(text)
        if hit is not None:
            return CheckOutcome(
                "block",
                reason=f"pattern:{hit.family}",
                detail={"layer": "pattern", "family": hit.family, "view": hit.view},
            )
        if self._classifier is None or self._embeddings is None:
            return CheckOutcome("pass", detail={"layer": "pattern"})
        windows = self._embeddings.message_windows(text)
        probability = self._classifier.score(windows)
        sentences = cue_sentences(text) if len(windows) > 1 else []
        if sentences and probability < self._classifier.threshold:
            probability = max(
                probability, self._classifier.score(self._embeddings.embed(sentences))
            )
        detail = {
            "layer": "classifier",
            "score": round(probability, 4),
            "windows": len(windows),
            "sentences": len(sentences),
        }
        if probability >= self._classifier.threshold:
            return CheckOutcome("block", reason="classifier", detail=detail)
        return CheckOutcome("pass", detail=detail)

    def check(self, text: str, vault: PhiVault) -> InputVerdict:
        """Run both guards; stop after the first if it blocked or the redactor failed."""
        decisions: list[GuardDecision] = []
        metadata: dict[str, Any] = {"decisions": decisions, "vault": vault, "route": "entry"}
        redacted = str(self._first.validate(text, metadata=metadata).validated_output)
        if not any(d.stops for d in decisions):
            if self._call_guard is not None:
                self._call_guard.trust(redacted)
            self._second.validate(redacted, metadata=metadata)
        for decision in decisions:
            self.metrics.observe(decision)
        return _verdict(redacted, decisions)


def _verdict(text: str, decisions: list[GuardDecision]) -> InputVerdict:
    """Escalation first (a self-harm guard fault escalates too), then any stop blocks."""
    escalation = next(
        (
            d
            for d in decisions
            if d.action == "escalate" or (d.guard == "self_harm" and d.action == "error")
        ),
        None,
    )
    if escalation is not None:
        return InputVerdict(text, "escalate", decisions, escalation.guard)
    stop = next((d for d in decisions if d.stops), None)
    if stop is not None:
        return InputVerdict(text, "block", decisions, stop.guard)
    return InputVerdict(text, "pass", decisions)
