"""The suite registry: every module in `evals/suites/` that defines `SUITE` is an eval suite.

Adding a suite for a new agent is one module, e.g. `evals/suites/tutor.py`:

    from evals.harness import EvalContext, Suite
    from evals.results import SuiteResult

    def run(ctx: EvalContext) -> SuiteResult:
        ref, items = load_jsonl("tutor_grading", GradingCase)       # evals/datasets.py
        rows = mean_rows(float(grade(i) == i.expected) for i in items)
        return SuiteResult(name="tutor", title="Tutor grading", agent="tutor", datasets=[ref],
                           metrics=[ctx.metric("grading_agreement", "ratio", ids, rows)])

    SUITE = Suite(name="tutor", title="Tutor grading", agent="tutor", run=run,
                  requires=("agents.tutor",))

plus its thresholds in `evals/thresholds.yaml`. `pytest evals/` and `medgraph eval` pick it up.
A suite whose `requires` modules are missing is reported as skipped.
"""

from __future__ import annotations

import importlib
import pkgutil

from evals.harness import Suite
from state.errors import ConfigError, InputError


def discover() -> dict[str, Suite]:
    """Every suite, by name (imports each module of this package once)."""
    suites: dict[str, Suite] = {}
    for info in pkgutil.iter_modules(__path__):
        module = importlib.import_module(f"{__name__}.{info.name}")
        suite = getattr(module, "SUITE", None)
        if suite is None:
            continue
        if not isinstance(suite, Suite):
            raise ConfigError(f"evals.suites.{info.name}.SUITE is not a Suite")
        if suite.name in suites:
            raise ConfigError(f"two suites are named {suite.name!r}")
        suites[suite.name] = suite
    return suites


def select(names: list[str] | None = None) -> list[Suite]:
    """The named suites (all when `names` is empty), in run order; unknown names are refused."""
    suites = discover()
    if not names:
        chosen = list(suites.values())
    else:
        unknown = [n for n in names if n not in suites]
        if unknown:
            known = ", ".join(sorted(suites))
            raise InputError(f"unknown eval suite(s) {', '.join(unknown)}; known: {known}")
        chosen = [suites[n] for n in dict.fromkeys(names)]
    return sorted(chosen, key=lambda s: (s.order, s.name))
