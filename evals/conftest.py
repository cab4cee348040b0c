"""pytest integration of the eval suites: one run per session, thresholds as tests, a metric table.

    .venv/bin/pytest evals/                          # every suite, thresholds from thresholds.yaml
    .venv/bin/pytest evals/ --eval-suites routing    # some suites
    .venv/bin/pytest evals/ --eval-out DIR           # also write report.md, results.json, PNGs

The metric table is printed in the terminal summary, so it shows without `-s`.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from rich.console import Console

from app.eval_cli import eval_context
from app.settings import Settings
from evals.harness import run_suites
from evals.report import judge_line, metric_table, save_run
from evals.results import RunResult
from evals.suites import select
from evals.thresholds import check_run, load_thresholds

RUN = pytest.StashKey[RunResult]()
REPORT = pytest.StashKey[Path]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("medgraph evals")
    group.addoption("--eval-suites", default="", help="comma-separated eval suites (default all)")
    group.addoption("--eval-out", default=None, help="also write the eval report under this dir")
    group.addoption("--eval-boot", type=int, default=2000, help="bootstrap resamples")


def _selected(config: pytest.Config) -> list[str]:
    names = [n.strip() for n in config.getoption("--eval-suites").split(",") if n.strip()]
    return [s.name for s in select(names)]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    selected = _selected(metafunc.config)
    if "suite_name" in metafunc.fixturenames:
        metafunc.parametrize("suite_name", selected)
    if "threshold" in metafunc.fixturenames:
        keys = [
            (suite, metric)
            for suite, metrics in load_thresholds().items()
            if suite in selected
            for metric in metrics
        ]
        metafunc.parametrize("threshold", keys, ids=[f"{s}/{m}" for s, m in keys])


@pytest.fixture(scope="session")
def eval_run(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> RunResult:
    """Every selected suite, run once per session."""
    config = request.config
    settings = Settings()
    with eval_context(
        settings, tmp_path_factory.mktemp("evals"), n_boot=config.getoption("--eval-boot")
    ) as ctx:
        run = run_suites(select(_selected(config)), ctx)
    config.stash[RUN] = run
    out = config.getoption("--eval-out")
    if out:
        config.stash[REPORT] = save_run(run, Path(out), checks=check_run(run, load_thresholds()))
    return run


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, config: pytest.Config
) -> None:
    run = config.stash.get(RUN, None)
    if run is None:
        return
    buffer = io.StringIO()
    width = max(terminalreporter._tw.fullwidth, 120)
    Console(file=buffer, width=width, force_terminal=False, color_system=None).print(
        metric_table(run, check_run(run, load_thresholds()))
    )
    terminalreporter.section("MedGraph eval metrics (95% bootstrap CIs)")
    for line in buffer.getvalue().splitlines():
        terminalreporter.write_line(line)
    terminalreporter.write_line(f"{judge_line(run)}; {run.seconds:.0f} s; {run.machine}")
    report = config.stash.get(REPORT, None)
    if report is not None:
        terminalreporter.write_line(f"report: {report}")
