"""Metric thresholds (`evals/thresholds.yaml`) and checking a run against them.

A threshold is a bound on a metric's point estimate: `min` for higher-is-better metrics, `max`
for the others. A threshold whose metric a suite did not produce fails (a renamed metric must
not silently stop being checked); a skipped suite's thresholds are skipped with it.

Usage:
    checks = check_run(run, load_thresholds())
    failed = [c for c in checks if c.status == "failed"]
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from evals.results import RunResult
from state.errors import ConfigError

THRESHOLDS = Path(str(resources.files("evals").joinpath("thresholds.yaml")))


class Bound(BaseModel):
    """Lower and/or upper bound of one metric."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _some_bound(self) -> Bound:
        if self.min is None and self.max is None:
            raise ValueError("a threshold needs min or max")
        return self

    def describe(self) -> str:
        """`>= 0.9`, `<= 0.05` or both."""
        parts = [f">= {self.min:g}"] if self.min is not None else []
        parts += [f"<= {self.max:g}"] if self.max is not None else []
        return " and ".join(parts)

    def holds(self, value: float) -> bool:
        """Whether the value is within the bound."""
        return (self.min is None or value >= self.min) and (self.max is None or value <= self.max)


Thresholds = dict[str, dict[str, Bound]]


def load_thresholds(path: Path = THRESHOLDS) -> Thresholds:
    """Suite → metric → bound."""
    try:
        raw = yaml.safe_load(path.read_text("utf-8")) or {}
        return {
            suite: {metric: Bound.model_validate(b) for metric, b in (metrics or {}).items()}
            for suite, metrics in raw.items()
        }
    except (OSError, yaml.YAMLError, ValidationError, AttributeError) as exc:
        raise ConfigError(f"eval thresholds {path} are invalid: {exc}") from exc


@dataclass(frozen=True)
class ThresholdCheck:
    """The outcome of one threshold on one run."""

    suite: str
    metric: str
    bound: Bound
    value: float | None
    status: Literal["passed", "failed", "skipped"]
    reason: str = ""


def check_run(run: RunResult, thresholds: Thresholds) -> list[ThresholdCheck]:
    """Every threshold of the suites in the run, checked."""
    checks: list[ThresholdCheck] = []
    for suite in run.suites:
        for name, bound in thresholds.get(suite.name, {}).items():
            if suite.status == "skipped":
                checks.append(
                    ThresholdCheck(suite.name, name, bound, None, "skipped", suite.reason)
                )
                continue
            if suite.status == "error":
                checks.append(ThresholdCheck(suite.name, name, bound, None, "failed", suite.reason))
                continue
            metric = suite.metric(name)
            if metric is None or not metric.defined or metric.value is None:
                reason = "the suite did not produce this metric" if metric is None else "no value"
                checks.append(ThresholdCheck(suite.name, name, bound, None, "failed", reason))
                continue
            ok = bound.holds(metric.value)
            checks.append(
                ThresholdCheck(
                    suite.name,
                    name,
                    bound,
                    metric.value,
                    "passed" if ok else "failed",
                    "" if ok else f"{metric.value:.4g} is not {bound.describe()}",
                )
            )
    return checks
