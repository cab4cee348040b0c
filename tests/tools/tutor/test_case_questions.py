"""Case questions built from the real IU X-ray reports with the real radiology labeller."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from app.settings import Settings
from state.errors import InputError
from tools.radiology.assets import ensure_radiology_data
from tools.radiology.conditions import CONDITIONS, Mention
from tools.radiology.labeller import label_report
from tools.radiology.report_text import clean_section
from tools.radiology.reports import IUReport, load_iu_reports
from tools.tutor.bank import Question, load_bank
from tools.tutor.case_questions import (
    CHOICE_TEXT,
    CONDITION_CONCEPTS,
    CaseQuestion,
    build_case_questions,
    usable,
)
from tools.tutor.grading import keyword_present, stems

CONDITION_OF_CHOICE = {text: condition for condition, text in CHOICE_TEXT.items()}


@pytest.fixture(scope="module")
def reports() -> list[IUReport]:
    return load_iu_reports(ensure_radiology_data(Settings().cache_dir).reports_tgz)


@pytest.fixture(scope="module")
def sample(reports: list[IUReport]) -> list[CaseQuestion]:
    return build_case_questions(reports, count=40, seed=11)


def _findings_of(question: CaseQuestion) -> str:
    return question["stem"].split("Findings: ", 1)[1]


def test_builds_questions_that_validate_and_join_the_real_bank(
    sample: list[CaseQuestion],
) -> None:
    assert len(sample) == 40
    questions = [Question.model_validate(q) for q in sample]
    bank = load_bank(extra_questions=questions)
    assert len({q.id for q in bank.questions}) == len(bank.questions)
    assert {q["id"].rsplit("-", 1)[1] for q in sample} >= {"1", "3"}
    assert all(q["id"].startswith("case-") for q in sample)
    assert set(CONDITION_CONCEPTS.values()) <= {c.id for c in bank.concepts}


def test_same_seed_gives_the_same_questions_and_another_seed_differs(
    reports: list[IUReport], sample: list[CaseQuestion]
) -> None:
    assert build_case_questions(reports, count=40, seed=11) == sample
    other = build_case_questions(reports, count=40, seed=12)
    assert [q["id"] for q in other] != [q["id"] for q in sample]


def test_mcq_answer_is_labelled_present_and_distractors_absent(
    sample: list[CaseQuestion],
) -> None:
    mcqs = [q for q in sample if q["kind"] == "mcq"]
    assert mcqs
    for question in mcqs:
        labels = label_report(_findings_of(question))
        for choice in question["choices"]:
            condition = CONDITION_OF_CHOICE[choice["text"]]
            if choice["correct"]:
                assert labels[condition] == "positive", question["id"]
                assert CONDITION_CONCEPTS[condition] == question["concepts"][0]
            else:
                assert labels[condition] not in ("positive", "uncertain"), question["id"]


def test_short_model_answers_pass_their_own_rubric(sample: list[CaseQuestion]) -> None:
    shorts = [q for q in sample if q["kind"] == "short"]
    assert shorts
    for question in shorts:
        assert 2 <= len(question["rubric_keywords"]) <= 6
        words = stems(question["answer"])
        assert all(keyword_present(k, words) for k in question["rubric_keywords"]), question["id"]


def test_uses_no_report_with_deidentified_text(
    reports: list[IUReport], sample: list[CaseQuestion]
) -> None:
    by_uid = {r.uid: r for r in reports}
    used = {by_uid[q["id"].split("-")[1]] for q in sample}
    assert all(usable(r) for r in used)
    assert all("xxxx" not in (r.findings + r.impression).lower() for r in used)
    assert not usable(by_uid["1"])  # "Normal chest x-XXXX." impression


def test_caps_the_share_of_normal_studies(reports: list[IUReport]) -> None:
    by_uid = {r.uid: r for r in reports}
    questions = build_case_questions(reports, count=60, seed=5, normal_share=0.2)
    used = {by_uid[q["id"].split("-")[1]] for q in questions}
    normal = [
        r
        for r in used
        if not any(
            m == "positive" and c != "No Finding"
            for c, m in label_report(clean_section(r.findings)).items()
        )
    ]
    assert normal
    assert len(normal) <= 0.2 * len(used) + 1


def test_prefers_distractors_the_report_rules_out_and_quotes_them() -> None:
    report = IUReport(
        uid="9001",
        findings="Mild cardiomegaly. No pneumothorax. No pleural effusion. No focal consolidation.",
        impression="Mild cardiomegaly.",
    )
    [mcq] = [q for q in build_case_questions([report], count=3, seed=0) if q["kind"] == "mcq"]
    assert mcq["answer"] == CHOICE_TEXT["Cardiomegaly"]
    wrong = {CONDITION_OF_CHOICE[c["text"]]: c["rationale"] for c in mcq["choices"]}
    assert set(wrong) == {"Cardiomegaly", "Pneumothorax", "Pleural Effusion", "Consolidation"}
    assert wrong["Pneumothorax"] == 'The report rules it out: "No pneumothorax."'
    assert mcq["concepts"] == ["cardiomegaly"]


def test_impression_question_has_the_radiologists_impression_as_answer() -> None:
    report = IUReport(
        uid="9002",
        findings="The heart is enlarged. There is a small left pleural effusion. No pneumothorax.",
        impression="Cardiomegaly with a small left pleural effusion.",
        indication="Shortness of breath",
    )
    [impression] = [
        q for q in build_case_questions([report], count=3, seed=0) if q["id"].endswith("-3")
    ]
    assert impression["answer"] == "Cardiomegaly with a small left pleural effusion."
    assert set(impression["rubric_keywords"]) == {"cardiomegaly", "effusion", "left", "small"}
    assert impression["stem"].startswith("Write the impression")
    assert "Indication: Shortness of breath" in impression["stem"]


def test_labeller_is_injectable() -> None:
    def everything_is_a_fracture(text: str) -> Mapping[str, Mention]:
        return {c: ("positive" if c == "Fracture" else "negative") for c in CONDITIONS}

    report = IUReport(
        uid="9003", findings="Old healed rib fracture. Lungs clear.", impression="Old fracture."
    )
    questions = build_case_questions([report], count=3, seed=0, labeller=everything_is_a_fracture)
    mcq = next(q for q in questions if q["kind"] == "mcq")
    assert mcq["answer"] == CHOICE_TEXT["Fracture"]
    assert mcq["concepts"] == ["fracture"]


def test_skips_reports_without_findings_or_with_deidentified_spans() -> None:
    reports = [
        IUReport(uid="9004", findings="", impression="No acute disease."),
        IUReport(uid="9005", findings="No XXXX effusion.", impression="Normal."),
    ]
    assert build_case_questions(reports, count=5, seed=0) == []


@pytest.mark.parametrize(("count", "share"), [(0, 0.25), (5, 1.5)])
def test_rejects_a_bad_count_or_share(count: int, share: float) -> None:
    with pytest.raises(InputError):
        build_case_questions([], count=count, seed=0, normal_share=share)
