"""Running suites through the harness, thresholds, run comparison and the written report.

The suites here are small pure-Python suites over synthetic items (no models), so the test
checks the harness and the report, not any agent.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from pydantic import ValidationError

from evals.compare import compare_runs, pairwise_outputs
from evals.harness import EvalConfig, EvalContext, Suite, run_suites
from evals.judge import JudgeReply, LlmJudge
from evals.report import load_run, read_history, render_markdown, save_run
from evals.results import ConfusionData, ItemOutput, ReliabilityData, RunResult, SuiteResult
from evals.rubric import load_rubrics
from evals.stats import ece_rows, mean_rows
from evals.thresholds import Bound, check_run
from state.errors import ConfigError, InputError
from tools.guards.assembly import GuardConfig

PNG = b"\x89PNG\r\n\x1a\n"


def context(tmp_path: Path) -> EvalContext:
    """A context whose models are never loaded (the suites below do not ask for them)."""

    def no_models():
        raise AssertionError("these suites must not load a model")

    config = EvalConfig(
        workdir=tmp_path, guard=GuardConfig("test", tmp_path, 1000), n_boot=300, seed=1
    )
    return EvalContext(config, no_models, lambda *_: no_models())


def toy_suite(correct: list[bool], name: str = "toy") -> Suite:
    def run(ctx: EvalContext) -> SuiteResult:
        ids = [f"item-{i}" for i in range(len(correct))]
        confidence = [0.9 if c else 0.6 for c in correct]
        return SuiteResult(
            name=name,
            title="Toy suite",
            agent="toy",
            metrics=[
                ctx.metric("accuracy", "ratio", ids, mean_rows(correct)),
                ctx.metric(
                    "ece", "ece", ids, ece_rows(confidence, correct), higher_is_better=False
                ),
                ctx.metric(
                    "latency_ms",
                    "ratio",
                    ids,
                    mean_rows([12.0] * len(ids)),
                    higher_is_better=False,
                    unit="ms",
                ),
            ],
            confusion=[
                ConfusionData(
                    name="toy",
                    labels=["x", "y"],
                    predicted_labels=["x", "y"],
                    matrix=[[5, 1], [2, 7]],
                )
            ],
            reliability=[
                ReliabilityData(
                    name="toy", confidences=confidence, outcomes=correct, meaning="correct"
                )
            ],
            outputs=[
                ItemOutput(item_id=i, question="q", answer=f"answer {c}")
                for i, c in zip(ids, correct, strict=True)
            ],
        )

    return Suite(name=name, title="Toy suite", agent="toy", run=run)


def failing(ctx: EvalContext) -> SuiteResult:
    raise ConfigError("dataset missing")


def test_suites_run_in_order_and_missing_agents_or_errors_are_reported(tmp_path) -> None:
    suites = [
        toy_suite([True, False, True, True]),
        Suite(
            name="later",
            title="Later",
            agent="tutor",
            run=failing,
            requires=("agents.no_such_agent",),
        ),
        Suite(name="broken", title="Broken", agent="x", run=failing, order=5),
    ]
    with context(tmp_path) as ctx:
        run = run_suites(suites, ctx)
    assert [s.name for s in run.suites] == ["broken", "later", "toy"]
    broken, later, toy = run.suites
    assert broken.status == "error" and "dataset missing" in broken.reason
    assert later.status == "skipped" and "agents.no_such_agent" in later.reason
    accuracy = toy.metric("accuracy")
    assert accuracy is not None and accuracy.value == 0.75 and accuracy.n == 4
    assert accuracy.low is not None and accuracy.high is not None
    assert run.judge.kind == "unused"


def test_thresholds_pass_fail_and_flag_missing_metrics(tmp_path) -> None:
    with context(tmp_path) as ctx:
        run = run_suites([toy_suite([True, True, False, True])], ctx)
    checks = check_run(
        run,
        {"toy": {"accuracy": Bound(min=0.7), "ece": Bound(max=0.01), "renamed": Bound(min=0.5)}},
    )
    by_name = {c.metric: c for c in checks}
    assert by_name["accuracy"].status == "passed"
    assert by_name["ece"].status == "failed" and "<= 0.01" in by_name["ece"].reason
    assert by_name["renamed"].status == "failed" and "did not produce" in by_name["renamed"].reason
    with pytest.raises(ValidationError):
        Bound()


def test_the_report_directory_has_markdown_json_plots_and_history(tmp_path) -> None:
    root = tmp_path / "runs"
    with context(tmp_path) as ctx:
        first = run_suites([toy_suite([True, False] * 20)], ctx)
        second = run_suites([toy_suite([True] * 40)], ctx)
    save_run(first, root)
    comparisons = compare_runs(second, first, n_boot=500, seed=0)
    report = save_run(
        second,
        root,
        checks=check_run(second, {"toy": {"accuracy": Bound(min=0.9)}}),
        comparisons=comparisons,
        compared_with=first.run_id,
    )
    directory = report.parent
    pngs = sorted(p.name for p in directory.glob("*.png"))
    assert pngs == ["confusion_toy_toy.png", "reliability_toy_toy.png", "scores.png"]
    assert all((directory / p).read_bytes().startswith(PNG) for p in pngs)
    text = report.read_text()
    assert "| accuracy | 1.000 |" in text and ">= 0.9: passed" in text
    assert f"Compared with run {first.run_id}" in text
    assert "![scores.png](scores.png)" in text
    assert [h.run_id for h in read_history(root)] == [first.run_id, second.run_id]
    assert load_run("latest", root) == second
    assert load_run(first.run_id, root) == first
    assert load_run(str(directory), root) == second
    with pytest.raises(InputError):
        load_run("no-such-run", root)


def test_a_paired_comparison_finds_the_better_run(tmp_path) -> None:
    with context(tmp_path) as ctx:
        worse = run_suites([toy_suite([True, False] * 30)], ctx)
        better = run_suites([toy_suite([True] * 60)], ctx)
    [accuracy] = [
        c for c in compare_runs(better, worse, n_boot=1000, seed=0) if c.metric == "accuracy"
    ]
    assert accuracy.diff == pytest.approx(0.5) and accuracy.low > 0
    assert accuracy.p_value < 0.01 and accuracy.verdict == "better"
    [ece] = [c for c in compare_runs(better, worse, n_boot=1000, seed=0) if c.metric == "ece"]
    assert ece.n == 60


class FirstAnswerTransport:
    """A SCRIPTED judge that always says the first answer is better."""

    identity = "scripted-first@test"
    logprobs = False

    def rate(self, messages, max_tokens):
        return JudgeReply("A")


def test_pairwise_judging_of_two_runs_counts_no_wins_for_a_position_biased_judge(tmp_path) -> None:
    with context(tmp_path) as ctx:
        one = run_suites([toy_suite([True, False, True])], ctx)
        two = run_suites([toy_suite([False, False, True])], ctx)
    [summary] = asyncio.run(
        pairwise_outputs(LlmJudge(FirstAnswerTransport()), load_rubrics()["relevance"], two, one)
    )
    assert (summary.current_wins, summary.previous_wins) == (0, 0)
    assert summary.inconsistent == 1 and summary.identical == 2


def test_the_report_flags_an_unreliable_judge_and_shows_skipped_suites(tmp_path) -> None:
    with context(tmp_path) as ctx:
        run = run_suites(
            [
                toy_suite([True]),
                Suite(
                    name="later",
                    title="Later",
                    agent="tutor",
                    run=failing,
                    requires=("agents.nope",),
                ),
            ],
            ctx,
        )
    run = run.model_copy(
        update={
            "judge": run.judge.model_copy(
                update={
                    "label": "LLM judge m@http://x",
                    "kind": "llm",
                    "rho": 0.41,
                    "reliable": False,
                }
            )
        }
    )
    text = render_markdown(run)
    assert "judge: LLM judge m@http://x; calibration Spearman rho 0.410 (UNRELIABLE" in text
    assert "**skipped**: not installed: agents.nope" in text
    assert RunResult.model_validate_json(run.model_dump_json()) == run
