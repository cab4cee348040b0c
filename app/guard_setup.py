"""Build the guard set from settings: one embedder, one fitted classifier, audited decisions."""

from __future__ import annotations

from collections.abc import Callable

from app.settings import Settings
from tools.guards.assembly import GuardConfig, GuardSet, build_guard_set
from tools.guards.metrics import GuardDecision
from tools.guards.policy import parse_route_off
from tools.models.embedder import MiniLMEmbedder


def guard_config(settings: Settings, *, enabled: bool = True) -> GuardConfig:
    """The guards' setting values (`MEDGRAPH_GUARD_*`)."""
    return GuardConfig(
        profile=settings.guard_profile,
        cache_dir=settings.cache_dir,
        max_chars=settings.max_message_chars,
        injection_threshold=settings.guard_injection_threshold,
        disabled=tuple(g.strip() for g in settings.guard_disabled.split(",") if g.strip()),
        route_off=tuple(parse_route_off(settings.guard_route_off)),
        enabled=enabled,
    )


def build_guards(
    settings: Settings,
    embedder: MiniLMEmbedder,
    observer: Callable[[GuardDecision], None] | None = None,
) -> GuardSet:
    """Every guard, sharing `embedder` (the classifier fit is cached under the cache dir)."""
    return build_guard_set(
        embedder,
        guard_config(settings),
        embedder_id=f"minilm-{embedder.variant}",
        observer=observer,
    )
