"""The output guards of one answer: PII leakage, then clinical-safety wording for its route.

Leakage: a redacted value that shows up in clear goes back to its placeholder; an identifier the
model made up becomes `[REDACTED TYPE]` (never restored). Clinical safety applies where its
policy is on for the answering agent (radiology and medical routes).

Usage:
    guards = OutputGuards(redactor, policies=profile("prod"))
    verdict = guards.check(answer_text, route="radiology", vault=vault)
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from typing import Any, Literal

from tools.guards.clinical_safety import make_clinically_safe
from tools.guards.metrics import GuardDecision, GuardMetrics
from tools.guards.phi import PhiRedactor, PhiVault
from tools.guards.policy import GuardPolicy
from tools.guards.telemetry import LocalGuard
from tools.guards.validators import CheckOutcome, ClinicalSafety, PiiLeakage

OutputAction = Literal["pass", "fix", "block"]


@dataclass(frozen=True)
class OutputVerdict:
    """The text to show (still with placeholders) and every guard's decision."""

    text: str
    action: OutputAction
    decisions: list[GuardDecision]


def scrub_leaks(redactor: PhiRedactor, text: str, vault: PhiVault) -> tuple[str, dict[str, int]]:
    """Known values back to placeholders; new identifiers to `[REDACTED TYPE]`."""
    counts: Counter[str] = Counter()
    for placeholder, value in sorted(vault.entries.items(), key=lambda kv: -len(kv[1])):
        pattern = re.compile(re.escape(value), re.IGNORECASE)
        text, n = pattern.subn(placeholder, text)
        if n:
            counts["known"] += n
    pieces: list[str] = []
    cursor = 0
    for span in redactor.find(text):
        pieces += [text[cursor : span.start], f"[REDACTED {span.kind}]"]
        counts[f"new_{span.kind}"] += 1
        cursor = span.end
    pieces.append(text[cursor:])
    return "".join(pieces), dict(counts)


class OutputGuards:
    """Exit guards of the graph, run on each answer before it is shown."""

    def __init__(
        self,
        redactor: PhiRedactor,
        *,
        policies: dict[str, GuardPolicy],
        metrics: GuardMetrics | None = None,
    ) -> None:
        self._redactor = redactor
        self._clinical_policy = policies["clinical_safety"]
        self.metrics = metrics or GuardMetrics()
        self._leakage = LocalGuard().use(PiiLeakage(self._leaks, policies["pii_leakage"], "output"))
        self._clinical = LocalGuard().use(
            ClinicalSafety(self._clinical_check, policies["clinical_safety"], "output")
        )

    def _leaks(self, text: str, metadata: dict[str, Any]) -> CheckOutcome:
        scrubbed, counts = scrub_leaks(self._redactor, text, metadata["vault"])
        if not counts:
            return CheckOutcome("pass")
        return CheckOutcome("fix", text=scrubbed, reason="pii_leak", detail=counts)

    def _clinical_check(self, text: str, metadata: dict[str, Any]) -> CheckOutcome:
        rewrite = make_clinically_safe(text)
        if rewrite.text == text:
            return CheckOutcome("pass")
        return CheckOutcome(
            "fix",
            text=rewrite.text,
            reason="clinical_wording",
            detail={"rewritten": rewrite.rewritten, "notice_added": rewrite.notice_added},
        )

    def check(self, text: str, *, route: str, vault: PhiVault) -> OutputVerdict:
        """Leakage first, then clinical safety on the scrubbed text; a fault fails closed."""
        decisions: list[GuardDecision] = []
        metadata: dict[str, Any] = {"decisions": decisions, "vault": vault, "route": route}
        current = str(self._leakage.validate(text, metadata=metadata).validated_output)
        if not any(d.stops for d in decisions) and self._clinical_policy.applies(route):
            current = str(self._clinical.validate(current, metadata=metadata).validated_output)
        for decision in decisions:
            self.metrics.observe(decision)
        if any(d.stops for d in decisions):
            return OutputVerdict(current, "block", decisions)
        fixed = any(d.action == "fix" for d in decisions)
        return OutputVerdict(current, "fix" if fixed else "pass", decisions)
