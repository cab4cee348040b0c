"""Parsing radiology messages, paraphrases of finding questions, and the report's evidence."""

from __future__ import annotations

import pytest

from agents.radiology_questions import (
    CUES,
    FindingQuestion,
    OpenQuestion,
    ReportRequest,
    parse_request,
    read_evidence,
)
from tests.agents.test_radiology_agent import fixed_report
from tools.radiology.conditions import CONDITIONS


@pytest.mark.parametrize(
    ("text", "condition"),
    [
        ("Is the heart enlarged?", "Cardiomegaly"),
        ("is there cardiomegaly", "Cardiomegaly"),
        ("Is there a left pleural effusion?", "Pleural Effusion"),
        ("Are the costophrenic angles blunted?", "Pleural Effusion"),
        ("Any pneumothorax?", "Pneumothorax"),
        ("Does it show a nodule?", "Lung Lesion"),
        ("Is there a broken rib?", "Fracture"),
        ("Is there a chest tube or central line?", "Support Devices"),
        ("Is the chest x-ray normal?", "No Finding"),
    ],
)
def test_yes_no_finding_questions_name_their_condition(text: str, condition: str) -> None:
    request = parse_request(text)
    assert isinstance(request, FindingQuestion)
    assert request.condition == condition and request.asked == text


def test_the_two_paraphrases_differ_from_the_question_and_each_other() -> None:
    request = parse_request("Is there cardiomegaly?")
    assert isinstance(request, FindingQuestion)
    assert request.paraphrases == ("Is the heart enlarged?", "Is the cardiac silhouette enlarged?")
    assert len(set(request.phrasings)) == 3


def test_every_condition_has_a_cue_with_three_distinct_phrasings() -> None:
    assert sorted(c.condition for c in CUES) == sorted(CONDITIONS)
    for cue in CUES:
        assert len(set(cue.phrasings)) == 3
        for phrasing in cue.phrasings:
            parsed = parse_request(phrasing)
            assert isinstance(parsed, FindingQuestion) and parsed.condition == cue.condition


@pytest.mark.parametrize(
    "text",
    [
        "Draft a report for this chest X-ray.",
        "report",
        "Can you write a report for this image?",
        "",
    ],
)
def test_report_requests(text: str) -> None:
    assert parse_request(text) == ReportRequest()


@pytest.mark.parametrize(
    "text", ["What does the impression say?", "Is the heart size normal?", "How sure is the model?"]
)
def test_other_questions_are_open(text: str) -> None:
    assert parse_request(text) == OpenQuestion(text)


def test_evidence_reads_the_report_then_the_classifier(tmp_path) -> None:
    report = fixed_report(tmp_path)
    cardio = read_evidence(report, "Cardiomegaly")
    assert (cardio.mention, cardio.verdict) == ("positive", "yes")
    assert cardio.sentences == (
        "The heart is enlarged.",
        "Cardiomegaly with a small left effusion.",
    )
    assert not cardio.classifier_disagrees
    assert read_evidence(report, "Pneumothorax").verdict == "no"
    assert read_evidence(report, "Fracture").verdict == "no"
    assert read_evidence(report, "No Finding").verdict == "no"
    leaning = report.model_copy(
        update={"aux_probabilities": {**report.aux_probabilities, "Fracture": 0.7}}
    )
    assert read_evidence(leaning, "Fracture").verdict == "uncertain"
    clash = report.model_copy(
        update={"aux_probabilities": {**report.aux_probabilities, "Cardiomegaly": 0.2}}
    )
    assert read_evidence(clash, "Cardiomegaly").classifier_disagrees
