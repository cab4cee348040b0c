"""`medgraph tutor bank|progress|fit` through typer's runner on the real bank and a SQLite store."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from app.settings import Settings, get_settings
from app.tutor_cli import tutor_app
from tools.tutor.bank import load_bank
from tools.tutor.learner import LearnerModel, LearnerState
from tools.tutor.learner_store import open_learner_store

runner = CliRunner()
ENV = {"COLUMNS": "200"}


def _record(settings: Settings, users: int, answers: int) -> None:
    bank = load_bank()
    model = LearnerModel(bank)
    questions = bank.questions_for("pa_projection")
    with open_learner_store(settings.resolved_tutor_url) as store:
        for u in range(users):
            state = LearnerState(tenant_id=settings.tenant_id, user_id=f"learner-{u}")
            for n in range(answers):
                state, event = model.record_answer(
                    state,
                    questions[n % len(questions)],
                    correct=(n + u) % 3 != 0,
                    score=1.0,
                    method="mcq",
                    counted=True,
                    attempt=1,
                    purpose="practice",
                )
                store.record(state, event)


def test_bank_command_validates_and_counts(settings: Settings) -> None:
    result = runner.invoke(tutor_app, ["bank"], env=ENV)
    assert result.exit_code == 0, result.output
    assert re.search(r"\d+ concepts, \d+ questions", result.output)
    assert "conditions" in result.output and "ml" in result.output


def test_progress_command_prints_the_table_and_writes_the_plot(settings: Settings) -> None:
    _record(settings, users=1, answers=4)
    result = runner.invoke(tutor_app, ["progress", "--user", "learner-0"], env=ENV)
    assert result.exit_code == 0, result.output
    assert "learner-0: 4 answers, 2 right; diagnostic not taken" in result.output
    assert "The PA projection" in result.output
    plot = Path(result.output.rsplit("Mastery over time: ", 1)[1].split()[0])
    assert plot.is_file() and plot.parent == settings.data_dir / "tutor"


def test_fit_keeps_defaults_without_data_and_fits_with_enough(settings: Settings) -> None:
    empty = runner.invoke(tutor_app, ["fit"], env=ENV)
    assert empty.exit_code == 0 and "defaults stay in force" in empty.output
    _record(settings, users=3, answers=6)
    fitted = runner.invoke(
        tutor_app, ["fit", "--min-learners", "3", "--min-answers", "18"], env=ENV
    )
    assert fitted.exit_code == 0, fitted.output
    assert (
        "Fitted BKT parameters (1 concepts)" in fitted.output and "pa_projection" in fitted.output
    )


def test_unsupported_store_url_is_a_clear_error(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MEDGRAPH_TUTOR_URL", "redis://127.0.0.1:6379/0")
    get_settings.cache_clear()
    result = runner.invoke(tutor_app, ["progress"], env=ENV)
    assert result.exit_code == 2
    assert "unsupported tutor store URL" in result.output
