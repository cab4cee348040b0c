"""The radiology agent's flows.

The composer here is SCRIPTED (`tests/scripted.py`): these tests check the agent's logic
(which calls it makes, how it validates and falls back, what it flags), not language quality.
The report tool is either the real service on a tiny random-weight checkpoint, or `FixedTool`,
which returns a hand-written report so that the expected answers are known.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

import pytest
import torch

from agents.model_access import StructuredOutputFailed
from agents.radiology import NO_IMAGE_REPLY, RadiologyAgent
from agents.registry import AgentTask
from agents.tool_calls import ToolCallReport, ToolCalls
from state.errors import AssetError
from state.schema import Attachment
from tests.scripted import ScriptedStructured, scripted_access
from tests.tools.radiology.checkpoint_support import FAST_DECODING, write_tiny_checkpoint
from tests.tools.radiology.phantom_support import lung_masks
from tools.guards.clinical_safety import REVIEW_NOTICE, make_clinically_safe
from tools.models.registry import ModelRegistry
from tools.radiology.conditions import CONDITIONS, REGIONS
from tools.radiology.phantoms import write_phantom
from tools.radiology.report_schema import (
    PHANTOM_NOTICE,
    AttentionOverlay,
    FindingAnswer,
    RadiologyReport,
)
from tools.radiology.service import BUILD_HINT, RadiologyService

FINDINGS = "The heart is enlarged. Small left pleural effusion. No pneumothorax."
IMPRESSION = "Cardiomegaly with a small left effusion."


def fixed_report(tmp_path: Path) -> RadiologyReport:
    probabilities = dict.fromkeys(CONDITIONS, 0.1)
    probabilities.update({"Cardiomegaly": 0.9, "Pleural Effusion": 0.8})
    return RadiologyReport(
        findings=FINDINGS,
        impression=IMPRESSION,
        text=f"Findings: {FINDINGS} | Impression: {IMPRESSION}",
        aux_probabilities=probabilities,
        gate=0.6,
        attention_maps=[
            AttentionOverlay(
                query=name,
                kind="condition" if i < 14 else "region",
                path=str(tmp_path / "heat" / f"{i:02d}.png"),
                peak=(0.5, 0.5),
            )
            for i, name in enumerate((*CONDITIONS, *REGIONS))
        ],
        model_id="chexquery-medvlm-tiny",
        pretrained=False,
        phantom_trained=True,
        image_digest="0" * 64,
    )


class FixedTool:
    """Returns one hand-written report and counts calls."""

    def __init__(self, report: RadiologyReport | Exception) -> None:
        self._report = report
        self.calls: list[Path] = []

    def report(self, path: Path) -> RadiologyReport:
        self.calls.append(path)
        if isinstance(self._report, Exception):
            raise self._report
        return self._report


def attachment(path: Path) -> Attachment:
    data = path.read_bytes() if path.exists() else b""
    return Attachment(
        kind="image",
        path=str(path),
        name=path.name,
        sha256=hashlib.sha256(data).hexdigest(),
        size_bytes=len(data),
    )


def task(text: str, *images: Path) -> AgentTask:
    return AgentTask(
        intent="radiology", text=text, order=0, attachments=[attachment(p) for p in images]
    )


def finding_answers(*replies: tuple[str, str]) -> ScriptedStructured:
    return ScriptedStructured(
        {"FindingAnswer": [FindingAnswer(answer=a, sentence=s) for a, s in replies]}
    )


@pytest.fixture(scope="module")
def film(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("film") / "film.png"
    return write_phantom("cardiomegaly", out, seed=4, size=160, masks=lung_masks())


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> RadiologyService:
    torch.set_num_threads(1)
    folder = tmp_path_factory.mktemp("svc")
    checkpoint = write_tiny_checkpoint(folder / "tiny")
    built = RadiologyService(
        ModelRegistry("cpu"), checkpoint, folder / "heat", generation=FAST_DECODING
    )
    yield built
    built.close()


def test_no_image_asks_for_one_and_runs_no_tool(tmp_path: Path) -> None:
    tool = FixedTool(fixed_report(tmp_path))
    reports: list[ToolCallReport] = []
    agent = RadiologyAgent(scripted_access(), tool, tool_calls=ToolCalls(reports.append))
    answer = agent.run(task("Is the heart enlarged?"))
    assert answer.text == NO_IMAGE_REPLY and "/image PATH" in answer.text
    assert tool.calls == [] and reports == []


def test_report_request_drafts_the_report_with_its_notices_and_audits_the_tool(
    service: RadiologyService, film: Path
) -> None:
    reports: list[ToolCallReport] = []
    agent = RadiologyAgent(scripted_access(), service, tool_calls=ToolCalls(reports.append))
    answer = agent.run(task("Draft a report for this chest X-ray.", film))
    text = answer.text
    assert answer.agent == "radiology"
    assert "Draft report for the attached image:" in text
    assert "Findings:" in text and "Impression:" in text
    assert PHANTOM_NOTICE in text and text.rstrip().endswith(REVIEW_NOTICE)
    folder = text.split("query): ", 1)[1].splitlines()[0]
    assert len(list(Path(folder).glob("*.png"))) == 20
    (report,) = reports
    assert (report.tool, report.outcome) == ("radiology_report", "ok")
    assert report.summary["overlays"] == 20 and report.summary["phantom_trained"] is True
    assert film.name not in str(report.summary)
    safe = make_clinically_safe(text)
    assert not safe.notice_added


def test_unreadable_image_gets_a_clear_reply_and_the_failed_call_is_audited(
    service: RadiologyService, film: Path, tmp_path: Path
) -> None:
    broken = tmp_path / "broken.png"
    broken.write_bytes(film.read_bytes()[:200])
    reports: list[ToolCallReport] = []
    agent = RadiologyAgent(scripted_access(), service, tool_calls=ToolCalls(reports.append))
    answer = agent.run(task("Draft a report.", broken))
    assert "I could not read the attached image" in answer.text
    assert "PNG, JPEG or DICOM" in answer.text and REVIEW_NOTICE in answer.text
    assert [(r.outcome, r.error) for r in reports] == [("error", "InputError")]
    again = agent.run(task("Draft a report.", film))
    assert "Draft report for the attached image:" in again.text


def test_missing_checkpoint_reply_says_how_to_build_one(tmp_path: Path, film: Path) -> None:
    agent = RadiologyAgent(scripted_access(), FixedTool(AssetError(f"no checkpoint; {BUILD_HINT}")))
    answer = agent.run(task("Draft a report.", film))
    assert "The radiology model is not available" in answer.text
    assert "medgraph radiology train --demo" in answer.text


def test_finding_question_whose_paraphrases_agree_uses_the_validated_sentence(
    tmp_path: Path, film: Path
) -> None:
    structured = finding_answers(*[("yes", "The heart is enlarged.")] * 3)
    agent = RadiologyAgent(
        scripted_access(structured=structured), FixedTool(fixed_report(tmp_path))
    )
    text = agent.run(task("Is the heart enlarged?", film)).text
    assert "Answer: Yes. The heart is enlarged." in text
    assert "the answers agreed" in text and "DISAGREED" not in text
    assert "“Is there cardiomegaly?”" in text and "“Is the cardiac silhouette enlarged?”" in text
    assert structured.calls == [("composer", "FindingAnswer")] * 3
    assert "Draft report for the attached image:" in text


def test_paraphrase_disagreement_is_flagged_and_the_report_reading_stands(
    tmp_path: Path, film: Path
) -> None:
    structured = finding_answers(
        ("yes", "The heart is enlarged."),
        ("no", "There is no cardiomegaly."),
        ("yes", "The cardiac silhouette is enlarged."),
    )
    agent = RadiologyAgent(
        scripted_access(structured=structured), FixedTool(fixed_report(tmp_path))
    )
    text = agent.run(task("Is the heart enlarged?", film)).text
    assert "Answer: Yes." in text
    assert "DISAGREED" in text
    assert "“Is there cardiomegaly?” → no" in text
    assert "the report's own reading → yes" in text


def test_a_composer_answer_that_contradicts_the_report_is_not_used(
    tmp_path: Path, film: Path
) -> None:
    structured = finding_answers(*[("no", "There is no pleural effusion.")] * 3)
    agent = RadiologyAgent(
        scripted_access(structured=structured), FixedTool(fixed_report(tmp_path))
    )
    text = agent.run(task("Is there a pleural effusion?", film)).text
    assert "Answer: Yes. The draft report reads: “Small left pleural effusion.”" in text
    assert "There is no pleural effusion" not in text.split("Consistency")[0]
    assert "answered no to every phrasing" in text and "DOES NOT MATCH" in text
    assert "DISAGREED" not in text


def test_negative_finding_reads_no_and_invalid_structured_output_falls_back(
    tmp_path: Path, film: Path
) -> None:
    calls: list[str] = []

    def failing(role: str, response_model: type, messages: Sequence[dict[str, str]]):
        calls.append(role)
        raise StructuredOutputFailed("no valid FindingAnswer")

    agent = RadiologyAgent(scripted_access(structured=failing), FixedTool(fixed_report(tmp_path)))
    text = agent.run(task("Is there a pneumothorax?", film)).text
    assert "Answer: No. The draft report reads: “No pneumothorax.”" in text
    assert "gave no valid answer to the three phrasings" in text
    assert len(calls) == 3


def test_an_unmentioned_finding_reads_from_the_classifier(tmp_path: Path, film: Path) -> None:
    structured = finding_answers(*[("no", "No fracture is described.")] * 3)
    agent = RadiologyAgent(
        scripted_access(structured=structured), FixedTool(fixed_report(tmp_path))
    )
    text = agent.run(task("Is there a fracture?", film)).text
    assert "Answer: No. No fracture is described." in text
    assert "the answers agreed" in text


def test_open_question_uses_a_valid_composer_answer(tmp_path: Path, film: Path) -> None:
    reply = "The report describes an enlarged heart and a small left pleural effusion."
    agent = RadiologyAgent(scripted_access([reply]), FixedTool(fixed_report(tmp_path)))
    text = agent.run(task("What does the report show?", film)).text
    assert f"Answer (from the draft report): {reply}" in text


def test_open_answer_that_contradicts_the_report_falls_back_to_its_summary(
    tmp_path: Path, film: Path
) -> None:
    agent = RadiologyAgent(
        scripted_access(["There is a large right pneumothorax."]), FixedTool(fixed_report(tmp_path))
    )
    text = agent.run(task("What does the report show?", film)).text
    assert "large right pneumothorax" not in text
    assert "It describes: Cardiomegaly, Pleural Effusion." in text
    assert f"Its impression reads: “{IMPRESSION}”" in text


def test_without_a_composer_the_answer_comes_from_the_report(tmp_path: Path, film: Path) -> None:
    agent = RadiologyAgent(None, FixedTool(fixed_report(tmp_path)))
    text = agent.run(task("Is there cardiomegaly?", film)).text
    assert "Answer: Yes." in text and "not run (no composer model" in text


def test_replies_need_no_clinical_safety_rewrite(tmp_path: Path, film: Path) -> None:
    structured = finding_answers(*[("yes", "The heart is enlarged.")] * 3)
    agent = RadiologyAgent(
        scripted_access(structured=structured), FixedTool(fixed_report(tmp_path))
    )
    for question in ("Is the heart enlarged?", "Draft a report."):
        safe = make_clinically_safe(agent.run(task(question, film)).text)
        assert safe.rewritten == 0 and not safe.notice_added


def test_a_bare_yes_is_not_used_as_the_supporting_sentence(tmp_path: Path, film: Path) -> None:
    structured = finding_answers(*[("yes", "yes")] * 3)
    agent = RadiologyAgent(
        scripted_access(structured=structured), FixedTool(fixed_report(tmp_path))
    )
    text = agent.run(task("Is the heart enlarged?", film)).text
    assert "Answer: Yes. The draft report reads: “The heart is enlarged.”" in text
    assert "the answers agreed" in text


def test_an_open_answer_that_repeats_the_prompt_falls_back(tmp_path: Path, film: Path) -> None:
    echo = (
        "You answer a clinician's question about a draft chest X-ray report written by an AI "
        "model. Use only the report."
    )
    agent = RadiologyAgent(scripted_access([echo]), FixedTool(fixed_report(tmp_path)))
    text = agent.run(task("What does the impression say?", tmp_path / "film.png")).text
    assert "Answer (from the draft report)" not in text
    assert "It describes: Cardiomegaly, Pleural Effusion." in text
