"""Graduated hints and explanations: Socratic nudges, cited pointers, worked answers."""

from __future__ import annotations

from tools.tutor.bank import Bank
from tools.tutor.hints import closing_explanation, graduated_hint


def test_mcq_nudge_rules_out_a_distractor_other_than_the_chosen_one(bank: Bank) -> None:
    question = bank.question("ppv_medium_mcq")
    hint = graduated_hint(bank, question, level=1, chosen=0)
    assert hint.kind == "nudge" and hint.citations == []
    assert "You can rule out C: Not so, this confuses two ideas." in hint.text
    assert hint.text.endswith("Which of the remaining choices fits what the question describes?")
    assert question.answer not in hint.text


def test_short_nudge_asks_about_a_missing_key_idea(bank: Bank) -> None:
    hint = graduated_hint(bank, bank.question("ppv_short"), level=1, missing=["lobe"])
    assert "What about “lobe”" in hint.text and "covers 2 key ideas" in hint.text


def test_pointer_quotes_a_key_point_and_cites_the_concept(bank: Bank) -> None:
    hint = graduated_hint(bank, bank.question("ppv_easy_mcq"), level=2)
    assert hint.kind == "pointer"
    assert "“PPV and prevalence key point" in hint.text
    assert hint.citations == ["[concept: ppv]"]


def test_worked_answer_explains_every_distractor_and_quotes_the_curriculum(bank: Bank) -> None:
    hint = graduated_hint(bank, bank.question("ppv_easy_mcq"), level=3)
    assert hint.text.startswith("Worked answer: ppv right easy")
    assert hint.text.count(" — Not so") == 3
    assert "From the curriculum: “" in hint.text and hint.text.endswith("[concept: ppv]")


def test_closing_explanation_cites_each_tested_concept(bank: Bank) -> None:
    text, citations = closing_explanation(bank, bank.question("projections_hard_mcq"))
    assert text.startswith("The right statement follows from the projections unit.")
    assert citations == ["[concept: projections]"]
