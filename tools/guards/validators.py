"""The project's guardrails-ai validators: thin adapters that run one check and record a decision.

Each validator wraps a `Check` (a plain callable), times it, appends a `GuardDecision` to the
`decisions` list passed in guardrails metadata, and returns a `FailResult` carrying the fixed text
when the check rewrote it. A fault inside a check becomes an `error` decision that stops the text
when the guard fails closed, and lets it through (loudly logged) when it fails open.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from guardrails import OnFailAction
from guardrails.classes.validation.validation_result import (
    FailResult,
    PassResult,
    ValidationResult,
)
from guardrails.validator_base import Validator, register_validator

from tools.guards.metrics import Action, GuardDecision, Stage
from tools.guards.policy import GuardPolicy

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CheckOutcome:
    """What a check found: its action, the rewritten text if any, and a PHI-free reason."""

    action: Action
    text: str | None = None
    reason: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)


Check = Callable[[str, dict[str, Any]], CheckOutcome]


class _CheckValidator(Validator):
    """Run one `Check` under one `GuardPolicy` and report its decision."""

    def __init__(self, check: Check, policy: GuardPolicy, stage: Stage) -> None:
        super().__init__(on_fail=OnFailAction.FIX)
        self._check = check
        self._policy = policy
        self._stage = stage

    def _validate(self, value: Any, metadata: dict[str, Any]) -> ValidationResult:
        route = str(metadata.get("route", "entry"))
        if not self._policy.applies(route):
            return PassResult()
        started = time.perf_counter()
        try:
            outcome = self._check(str(value), metadata)
        except Exception as exc:  # a guard fault is a decision: closed stops, open logs
            logger.warning(
                "guard_fault guard=%s error=%s fail_closed=%s",
                self._policy.name,
                exc.__class__.__name__,
                self._policy.fail_closed,
            )
            outcome = CheckOutcome(
                "error",
                reason=exc.__class__.__name__,
                detail={"fail_closed": self._policy.fail_closed},
            )
        decision = GuardDecision(
            guard=self._policy.name,
            stage=self._stage,
            action=outcome.action,
            severity=self._policy.severity,
            latency_ms=(time.perf_counter() - started) * 1000,
            route=route,
            reason=outcome.reason,
            detail=outcome.detail,
        )
        metadata["decisions"].append(decision)
        if outcome.text is not None:
            return FailResult(error_message=outcome.reason or "fixed", fix_value=outcome.text)
        return PassResult()


@register_validator(name="medgraph/size_limit", data_type="string")
class SizeLimit(_CheckValidator):
    """Message length and format limits."""


@register_validator(name="medgraph/phi_redaction", data_type="string")
class PhiRedaction(_CheckValidator):
    """Reversible, typed PHI/PII redaction (fails closed)."""


@register_validator(name="medgraph/self_harm", data_type="string")
class SelfHarm(_CheckValidator):
    """Self-harm, abuse and emergency detection (escalates)."""


@register_validator(name="medgraph/prompt_injection", data_type="string")
class PromptInjection(_CheckValidator):
    """Layered prompt-injection and jailbreak detection (fails closed)."""


@register_validator(name="medgraph/pii_leakage", data_type="string")
class PiiLeakage(_CheckValidator):
    """No redacted value and no new identifier in model output."""


@register_validator(name="medgraph/clinical_safety", data_type="string")
class ClinicalSafety(_CheckValidator):
    """No definitive diagnosis stated as fact; a review notice on clinical output."""
