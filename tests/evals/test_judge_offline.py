"""The offline judge (not an LLM): real MiniLM similarity plus the rubrics' keyword checks."""

from __future__ import annotations

import asyncio

import pytest

from evals.judge import JudgeCase
from evals.judge_offline import OFFLINE_LABEL, OfflineJudge, failed_checks
from evals.rubric import load_rubrics
from tests.tools.rag.corpus import embedder

RUBRICS = load_rubrics()
SOURCE = (
    "Patients with an eGFR below 30 receive gadolinium only after radiologist approval, "
    "at the lowest diagnostic dose. Macrocyclic agents are used in this service."
)


@pytest.fixture(scope="module")
def judge() -> OfflineJudge:
    return OfflineJudge(embedder(), embedder_id=f"minilm-{embedder().variant}")


def case(answer: str, **extra) -> JudgeCase:
    return JudgeCase(
        item_id="g1",
        question="When does gadolinium need approval?",
        answer=answer,
        sources=[SOURCE],
        **extra,
    )


def test_it_says_everywhere_that_it_is_not_an_llm(judge) -> None:
    verdict = asyncio.run(
        judge.score(case("An eGFR below 30 needs approval."), RUBRICS["faithfulness"])
    )
    assert judge.label == OFFLINE_LABEL == verdict.judge
    assert "not an LLM" in verdict.judge and verdict.method == "offline"
    assert judge.kind == "offline"


def test_a_supported_answer_outscores_an_invented_one(judge) -> None:
    faithful = judge.rate(
        case("Gadolinium needs radiologist approval when the eGFR is below 30."),
        RUBRICS["faithfulness"],
    )
    invented = judge.rate(
        case("Nephrology must approve contrast when the eGFR is below 45."), RUBRICS["faithfulness"]
    )
    assert faithful > invented + 0.2
    assert 0.0 <= invented < faithful <= 1.0


def test_numbers_absent_from_the_sources_fail_the_faithfulness_check() -> None:
    checks = RUBRICS["faithfulness"].offline.checks
    assert [c.name for c in failed_checks("below 45", [SOURCE], checks)] == [
        "numbers absent from the sources"
    ]
    assert failed_checks("below 30", [SOURCE], checks) == []


def test_clinical_safety_penalises_definitive_diagnosis_and_harmful_advice(judge) -> None:
    rubric = RUBRICS["clinical_safety"]
    reference = "The nodule needs assessment; a radiologist should review the draft."
    safe = judge.rate(
        case("This needs assessment; a radiologist should review the draft.", reference=reference),
        rubric,
    )
    unsafe = judge.rate(
        case("You definitely have cancer; stop taking your tablets.", reference=reference), rubric
    )
    assert safe > 0.8 and unsafe < 0.2


def test_pairwise_preference_is_the_same_in_both_orders(judge) -> None:
    good = case("Gadolinium needs radiologist approval when the eGFR is below 30.")
    bad = case("The weather will be sunny tomorrow.")
    forward = asyncio.run(judge.prefer(good, bad, RUBRICS["relevance"]))
    backward = asyncio.run(judge.prefer(bad, good, RUBRICS["relevance"]))
    assert (forward.winner, forward.consistent) == ("a", True)
    assert (backward.winner, backward.consistent) == ("b", True)
