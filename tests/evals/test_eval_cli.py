"""`medgraph eval`: listing, refusing bad input, choosing the judge, a real run with a report."""

from __future__ import annotations

import asyncio
import socket

import pytest
import typer
from typer.testing import CliRunner

from app.eval_cli import eval_command, make_judge, runs_root
from app.settings import get_settings
from evals.judge import JudgeCase
from evals.judge_offline import OFFLINE_LABEL
from evals.report import read_history
from evals.rubric import load_rubrics

cli = typer.Typer()
cli.command("eval")(eval_command)


@cli.callback()
def _group() -> None:
    """Keep `eval` a subcommand, as it is under `medgraph`."""


def invoke(*args: str):
    return CliRunner().invoke(cli, ["eval", *args])


def test_list_shows_every_suite_ready(settings) -> None:
    result = invoke("--list")
    assert result.exit_code == 0, result.output
    for name in ("judge", "routing", "guards", "documents", "conversations"):
        assert name in result.output
    assert "ready" in result.output


def test_an_unknown_suite_is_refused_with_the_known_ones(settings) -> None:
    result = invoke("radiologyy")
    assert result.exit_code == 2
    assert "unknown eval suite(s) radiologyy" in result.output and "routing" in result.output


def test_comparing_with_a_missing_run_fails_before_running_anything(settings) -> None:
    result = invoke("judge", "--compare", "20990101T000000Z-dead")
    assert result.exit_code == 2
    assert "no eval run" in result.output
    assert not runs_root(settings).exists()


def test_without_a_judge_endpoint_the_offline_judge_is_used(settings) -> None:
    judge = make_judge(settings, embeddings=None, embedder_id="minilm-test")  # type: ignore[arg-type]
    assert judge.kind == "offline" and judge.label == OFFLINE_LABEL


def test_a_configured_judge_endpoint_gives_an_llm_judge_whose_failures_are_reported(
    settings, monkeypatch
) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("MEDGRAPH_JUDGE_BASE_URL", f"http://127.0.0.1:{port}/v1")
    monkeypatch.setenv("MEDGRAPH_MODEL_MAX_RETRIES", "0")
    get_settings.cache_clear()
    judge = make_judge(get_settings(), embeddings=None, embedder_id="x")  # type: ignore[arg-type]
    assert judge.kind == "llm"
    assert f"127.0.0.1:{port}" in judge.label and "plain score, no logprobs" in judge.label
    case = JudgeCase(item_id="q", question="q?", answer="a.")
    verdict = asyncio.run(judge.score(case, load_rubrics()["relevance"]))
    assert verdict.score is None and "MEDGRAPH_JUDGE_BASE_URL" in (verdict.error or "")


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_a_run_writes_a_report_with_plots_and_a_second_run_compares_with_it(settings) -> None:
    first = invoke("judge", "--boot", "200")
    assert first.exit_code == 0, first.output
    assert "offline judge (not an LLM)" in first.output and "report:" in first.output
    second = invoke("judge", "--boot", "200", "--compare", "latest")
    assert second.exit_code == 0, second.output
    root = runs_root(settings)
    runs = [h.run_id for h in read_history(root)]
    assert len(runs) == 2
    report = (root / runs[1] / "report.md").read_text()
    assert f"Compared with run {runs[0]}" in report
    assert "| spearman_rho |" in report and "offline judge (not an LLM)" in report
    assert (root / runs[1] / "scores.png").read_bytes().startswith(b"\x89PNG")
    assert (root / runs[1] / "results.json").is_file()
