"""Guard policies: severity, fail-open or fail-closed, per-route switches and environment profiles.

Usage:
    policies = profile("prod", disabled={"grounding"}, route_off={("clinical_safety", "tutor")})
    policies["phi"].applies("general")  # True
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Literal

from state.errors import ConfigError

Severity = Literal["low", "medium", "high", "critical"]
ProfileName = Literal["dev", "test", "prod"]

GUARD_NAMES: tuple[str, ...] = (
    "size",
    "phi",
    "self_harm",
    "injection",
    "route_size",
    "pii_leakage",
    "clinical_safety",
    "grounding",
)
ALWAYS_CLOSED: frozenset[str] = frozenset({"phi", "injection"})
CLINICAL_ROUTES: frozenset[str] = frozenset({"radiology"})


@dataclass(frozen=True)
class GuardPolicy:
    """How one guard behaves: how bad a hit is, what an internal fault does, where it is off."""

    name: str
    severity: Severity
    fail_closed: bool
    enabled: bool = True
    routes_off: frozenset[str] = field(default_factory=frozenset)
    routes_on: frozenset[str] | None = None

    def applies(self, route: str) -> bool:
        """Whether this guard runs for `route` (an agent name, a model role, or `entry`).

        `routes_on`, when set, limits the guard to those routes (clinical safety: radiology).
        """
        if self.routes_on is not None and route not in self.routes_on:
            return False
        return self.enabled and route not in self.routes_off


_BASE: dict[str, GuardPolicy] = {
    "size": GuardPolicy("size", "medium", fail_closed=True),
    "phi": GuardPolicy("phi", "critical", fail_closed=True),
    "self_harm": GuardPolicy("self_harm", "critical", fail_closed=True),
    "injection": GuardPolicy("injection", "high", fail_closed=True),
    "route_size": GuardPolicy("route_size", "medium", fail_closed=True),
    "pii_leakage": GuardPolicy("pii_leakage", "critical", fail_closed=True),
    "clinical_safety": GuardPolicy(
        "clinical_safety", "high", fail_closed=True, routes_on=CLINICAL_ROUTES
    ),
    "grounding": GuardPolicy("grounding", "medium", fail_closed=True),
}

# In dev, faults in the non-critical guards are logged and let through, to ease debugging.
_DEV_OPEN: frozenset[str] = frozenset({"size", "route_size", "grounding"})


def profile(
    name: ProfileName,
    *,
    disabled: Iterable[str] = (),
    route_off: Iterable[tuple[str, str]] = (),
) -> dict[str, GuardPolicy]:
    """The policies of an environment profile, with guards switched off overall or per route.

    PHI redaction and injection detection can never be switched off, nor made fail-open.
    """
    disabled = set(disabled)
    unknown = (disabled | {g for g, _ in route_off}) - set(GUARD_NAMES)
    if unknown:
        raise ConfigError(f"unknown guard(s) {sorted(unknown)}; known: {list(GUARD_NAMES)}")
    locked = ALWAYS_CLOSED & (disabled | {g for g, _ in route_off})
    if locked:
        raise ConfigError(f"guard(s) {sorted(locked)} are mandatory and cannot be switched off")
    policies: dict[str, GuardPolicy] = {}
    for guard, base in _BASE.items():
        off_routes = base.routes_off | {route for g, route in route_off if g == guard}
        fail_closed = base.fail_closed and not (name == "dev" and guard in _DEV_OPEN)
        policies[guard] = replace(
            base,
            enabled=guard not in disabled,
            fail_closed=fail_closed,
            routes_off=frozenset(off_routes),
        )
    return policies


def parse_route_off(spec: str) -> list[tuple[str, str]]:
    """Parse `guard:route,guard:route` (the `MEDGRAPH_GUARD_ROUTE_OFF` setting)."""
    pairs: list[tuple[str, str]] = []
    for item in filter(None, (part.strip() for part in spec.split(","))):
        guard, sep, route = item.partition(":")
        if not sep or not guard or not route:
            raise ConfigError(f"guard route switch {item!r} must look like guard:route")
        pairs.append((guard.strip(), route.strip()))
    return pairs


def all_off(policies: Mapping[str, GuardPolicy]) -> dict[str, GuardPolicy]:
    """Every guard switched off: only for measuring the guards' own overhead in benchmarks."""
    return {name: replace(p, enabled=False) for name, p in policies.items()}
