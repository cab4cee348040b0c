"""Chat and ask flows through typer's test runner and one real subprocess, on the real models.

The model endpoint is the real embedded Gemma 3 270M, served once for the module and reached
through `MEDGRAPH_MODEL_BASE_URL`, exactly as any external OpenAI-compatible server would be.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from app.cli import app
from app.model_server import EmbeddedModelServer
from app.settings import get_settings

runner = CliRunner()


@pytest.fixture(scope="module")
def model_url(local_llm):
    with EmbeddedModelServer(local_llm) as server:
        yield server.base_url


@pytest.fixture
def cli_env(settings, monkeypatch, model_url):
    monkeypatch.setenv("MEDGRAPH_MODEL_BASE_URL", model_url)
    get_settings.cache_clear()
    return {"COLUMNS": "200"}


def chat(lines: list[str], *args: str, env=None):
    return runner.invoke(app, ["chat", *args], input="\n".join(lines) + "\n", env=env)


def test_chat_answers_shows_the_agent_and_survives_bad_input(cli_env):
    result = chat(
        ["hello there", "", "x" * 20_001, "/bogus", "/help", "/threads", "\x00\x01", "/quit"],
        env=cli_env,
    )
    out = result.output
    assert result.exit_code == 0, out
    assert "→ general (embedding" in out
    assert "general>" in out
    assert "I can help with:" in out and "Not installed in this build yet" not in out
    for capability in ("chest X-ray reports", "your own documents", "quizzes", "gate actions"):
        assert capability in out  # every specialist is installed in this build
    assert "the message is empty" in out
    assert "the limit is 20,000" in out
    assert "unknown command /bogus" in out
    assert "/retry" in out  # help text
    assert "Recent threads" in out
    assert "binary control character" in out
    assert out.rstrip().endswith("Bye.")


def test_chat_resume_shows_history_of_the_thread(cli_env):
    first = chat(["hello there", "/quit"], "--thread", "resume-me", env=cli_env)
    assert first.exit_code == 0, first.output
    again = chat(["/quit"], "--thread", "resume-me", env=cli_env)
    assert "History of thread resume-me" in again.output
    assert "you> hello there" in again.output
    assert "general>" in again.output


def test_unreachable_endpoint_names_url_and_setting_and_retry_keeps_the_turn(
    settings, monkeypatch, model_url
):
    monkeypatch.setenv("MEDGRAPH_MODEL_BASE_URL", "http://127.0.0.1:9/v1")
    get_settings.cache_clear()
    failed = chat(["hello there", "/quit"], "--thread", "flaky", env={"COLUMNS": "200"})
    assert failed.exit_code == 0, failed.output
    assert "http://127.0.0.1:9/v1" in failed.output
    assert "MEDGRAPH_MODEL_BASE_URL" in failed.output
    assert "/retry runs it again" in failed.output
    monkeypatch.setenv("MEDGRAPH_MODEL_BASE_URL", model_url)
    get_settings.cache_clear()
    resumed = chat(["/retry", "/quit"], "--thread", "flaky", env={"COLUMNS": "200"})
    assert "did not finish; /retry resumes it" in resumed.output
    assert resumed.output.count("general>") == 1
    again = chat(["/quit"], "--thread", "flaky", env={"COLUMNS": "200"})
    assert again.output.count("you> hello there") == 1


def test_ask_json_reports_route_and_answers(cli_env):
    result = runner.invoke(app, ["ask", "hello there", "--json"], env=cli_env)
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["route"]["tasks"][0]["intent"] == "general"
    assert payload["answers"][0]["agent"] == "general"


def test_ask_refuses_empty_and_undecodable_input_with_exit_code_2(cli_env):
    empty = runner.invoke(app, ["ask", "   "], env=cli_env)
    assert empty.exit_code == 2 and "the message is empty" in empty.output
    binary = runner.invoke(app, ["ask", "-"], input=b"\xff\xfe\x00", env=cli_env)
    assert binary.exit_code == 2 and "not valid UTF-8" in binary.output


def test_ask_runs_in_a_real_subprocess(cli_env, settings):
    env = {**os.environ, **cli_env, "MEDGRAPH_DATA_DIR": str(settings.data_dir)}
    env["MEDGRAPH_MODEL_BASE_URL"] = os.environ["MEDGRAPH_MODEL_BASE_URL"]
    proc = subprocess.run(
        [sys.executable, "-m", "app.cli", "ask", "I want to kill myself", "--json"],
        capture_output=True,
        text=True,
        timeout=180,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr
    payload = json.loads(proc.stdout)
    assert payload["answers"][0]["agent"] == "escalate"
    assert payload["answers"][0]["needs_human"] is True


def test_chat_takes_a_learner_from_the_diagnostic_to_a_progress_report(cli_env):
    answers = ["A"] * 10  # right or wrong, every answer must reach the tutor
    result = chat(
        ["I'm new to chest films, where do I start?", *answers, "how am I doing?", "/quit"],
        env=cli_env,
    )
    out = result.output
    assert result.exit_code == 0, out
    assert "diagnostic item 1 of 10" in out and "diagnostic item 10 of 10" in out
    assert out.count("→ tutor (continuation") >= 10  # "A" alone would route to general
    assert "Diagnostic complete:" in out
    assert "mastery  answers  status" in out and "Mastery over time (PNG):" in out
