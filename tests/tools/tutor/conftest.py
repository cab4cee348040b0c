"""Fixtures for tutor tests: a small valid bank on disk, loaded."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.tools.tutor.bank_fixture import write_bank
from tools.tutor.bank import Bank, load_bank


@pytest.fixture
def bank_dir(tmp_path: Path) -> Path:
    return write_bank(tmp_path / "bank")


@pytest.fixture
def bank(bank_dir: Path) -> Bank:
    return load_bank(bank_dir)
