"""Building the tutor's bank from settings: report cases when cached, never a download."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.settings import Settings
from app.tutor_setup import REPORTS_ARCHIVE, tutor_bank
from tools.radiology.assets import data_dir
from tools.tutor.bank import load_bank


def test_case_questions_join_the_bank_when_the_reports_are_cached(settings: Settings) -> None:
    if not (data_dir(settings.cache_dir) / REPORTS_ARCHIVE).is_file():
        pytest.skip("the IU reports are not in the shared cache")
    base = len(load_bank().questions)
    bank = tutor_bank(settings.model_copy(update={"tutor_case_questions": 12}))
    cases = [q for q in bank.questions if q.id.startswith("case-")]
    assert len(bank.questions) == base + 12 == base + len(cases)


def test_no_case_questions_when_switched_off_or_not_cached(
    settings: Settings, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    base = len(load_bank().questions)
    off = settings.model_copy(update={"tutor_case_questions": 0})
    assert len(tutor_bank(off).questions) == base
    uncached = settings.model_copy(update={"cache_dir": tmp_path / "empty-cache"})
    assert len(tutor_bank(uncached).questions) == base
    assert "reason=reports_not_cached" in caplog.text
    assert not (tmp_path / "empty-cache").exists()
