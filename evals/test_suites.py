"""The eval suites as tests: each suite runs, every metric has an interval, thresholds hold."""

from __future__ import annotations

import math

import pytest

from evals.judge_offline import OFFLINE_LABEL
from evals.results import RunResult
from evals.thresholds import check_run, load_thresholds


def test_suite_runs_and_every_metric_has_an_interval(eval_run: RunResult, suite_name: str) -> None:
    suite = eval_run.suite(suite_name)
    assert suite is not None
    if suite.status == "skipped":
        pytest.skip(f"{suite_name}: {suite.reason}")
    assert suite.status == "ok", suite.reason
    assert suite.metrics, f"{suite_name} produced no metrics"
    for metric in suite.metrics:
        assert metric.n > 0, f"{suite_name}/{metric.name} has no items"
        if metric.defined and not metric.name.endswith("_errors"):
            assert metric.low is not None and metric.high is not None, metric.name
            assert math.isfinite(metric.low) and metric.low <= metric.high, metric.name


def test_metric_meets_threshold(eval_run: RunResult, threshold: tuple[str, str]) -> None:
    suite, metric = threshold
    bounds = {suite: {metric: load_thresholds()[suite][metric]}}
    [check] = check_run(eval_run, bounds)
    if check.status == "skipped":
        pytest.skip(check.reason)
    assert check.status == "passed", f"{suite}/{metric}: {check.reason}"


def test_judge_scores_say_which_judge_gave_them(eval_run: RunResult) -> None:
    judged = [m for s in eval_run.suites for m in s.metrics if m.name.startswith("judge_")]
    judged = [m for m in judged if not m.name.endswith("_errors")]
    if not judged:
        pytest.skip("no suite in this run used the judge")
    for metric in judged:
        assert eval_run.judge.label in metric.note
    if eval_run.judge.kind == "offline":
        assert eval_run.judge.label == OFFLINE_LABEL
        assert "not an LLM" in eval_run.judge.label
