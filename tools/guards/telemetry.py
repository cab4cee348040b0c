"""Keep guardrails-ai local: telemetry and remote inference off in code, before any Guard exists.

guardrails-ai reads `~/.guardrailsrc` whenever a `Guard` is built or configured, and its default
(`enable_metrics=True`) exports OpenTelemetry spans to a remote host. `LocalGuard` never reads
that file: it pins the settings to metrics off and local inference on every (re)configuration.
Validators also run sequentially in the calling thread (`GUARDRAILS_RUN_SYNC`), not through an
asyncio loop and worker threads, which costs several milliseconds per `validate` call. Its
OpenTelemetry spans are off too (`settings.disable_tracing`): with no tracer provider they are
dropped anyway, yet building their attributes (JSON dumps of every call's history) took about
half of a 2,000-character input guard's non-embedding time. Guard decisions are audited by
MedGraph itself (`GraphAuditor`).
"""

from __future__ import annotations

import os

from guardrails import Guard
from guardrails.classes.rc import RC
from guardrails.settings import settings
from guardrails.utils.hub_telemetry_utils import HubTelemetry


def disable_guardrails_telemetry() -> None:
    """Pin guardrails-ai to no metrics, no tracing spans, no remote inference, sequential
    in-thread validation."""
    os.environ["GUARDRAILS_RUN_SYNC"] = "true"
    settings.disable_tracing = True
    settings.rc = RC(enable_metrics=False, use_remote_inferencing=False)
    HubTelemetry(enabled=False)._enabled = False


class LocalGuard(Guard):
    """A `Guard` that never reads `~/.guardrailsrc` and never collects metrics."""

    def _load_rc(self) -> None:
        disable_guardrails_telemetry()

    def configure(
        self, *, num_reasks: int | None = None, allow_metrics_collection: bool | None = None
    ) -> None:
        """Configure as guardrails does, but with metrics collection always off."""
        super().configure(num_reasks=num_reasks, allow_metrics_collection=False)


disable_guardrails_telemetry()
