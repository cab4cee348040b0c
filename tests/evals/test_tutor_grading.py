"""The free-text grader against hand-labelled answers to real bank questions."""

from __future__ import annotations

from collections import Counter

import pytest

from evals.tutor_grading import GradingReport, evaluate, load_items
from tools.models.embedder import MiniLMEmbedder
from tools.tutor.bank import load_bank
from tools.tutor.grading import Grader


@pytest.fixture(scope="module")
def report() -> GradingReport:
    return evaluate(Grader(MiniLMEmbedder.load("cpu").embed), load_bank(), load_items())


def test_labelled_set_covers_right_partial_and_wrong_answers() -> None:
    kinds = Counter(item.kind for item in load_items())
    assert kinds["paraphrase"] >= 10 and kinds["partial"] >= 10 and kinds["wrong"] >= 10
    bank = load_bank()
    assert all(bank.question(i.question_id).kind == "short" for i in load_items())


def test_grader_agrees_with_labels_and_never_passes_a_wrong_answer(report: GradingReport) -> None:
    assert report.accuracy >= 0.9
    assert report.false_passes == []
