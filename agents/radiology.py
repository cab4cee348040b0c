"""The radiology agent: drafts a report for an attached chest X-ray and answers questions about it.

Usage:
    agent = RadiologyAgent(access, service, tool_calls=ToolCalls(auditor.tool_call))
    answer = agent.run(AgentTask(intent="radiology", text="Is the heart enlarged?", order=0,
                                 attachments=[image]))

The tool does the substantive work, so a weak composer model cannot make an answer wrong:
1. No image attached: a reply asking for one (`/image PATH`). An unreadable image or a missing
   checkpoint: a reply saying what is wrong and what to do (`medgraph radiology train --demo`).
2. The report tool runs through `ToolCalls` (audited) and gives the draft report, the 14
   auxiliary probabilities, the gate and 20 attention overlays.
3. A yes/no finding question ("Is the heart enlarged?") is answered from the report's evidence
   (labeller reading of the text, else the auxiliary probability). The composer answers it and
   two paraphrases as a structured `FindingAnswer`; its sentence is used only when its verdict
   matches the evidence and it contradicts nothing in the report. Any disagreement between the
   three phrasings and the report's reading is flagged in the reply.
4. Another question is answered by the composer from the report; an answer that contradicts
   the report (labeller check) or is not plain short prose is replaced by the report's summary.
5. Every reply carries the draft report, the model's notices (synthetic-phantom training,
   random initialisation) and the clinical review notice.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage

from agents.model_access import ModelAccess, StructuredOutputFailed
from agents.radiology_questions import (
    NORMAL_STUDY,
    FindingQuestion,
    OpenQuestion,
    RadiologyRequest,
    Verdict,
    parse_request,
    read_evidence,
)
from agents.registry import AgentTask
from agents.tool_calls import ToolCalls
from state.errors import AssetError, InputError
from state.schema import AgentAnswer, Attachment, Intent
from tools.guards.clinical_safety import REVIEW_NOTICE
from tools.radiology.conditions import CONDITIONS
from tools.radiology.labeller import label_report
from tools.radiology.report_schema import (
    PHANTOM_NOTICE,
    RANDOM_INIT_NOTICE,
    FindingAnswer,
    RadiologyReport,
)
from tools.radiology.report_text import split_sentences

log = logging.getLogger(__name__)

NO_IMAGE_REPLY = (
    "I need a chest X-ray to work from, and this message has no image attached. Attach one "
    "with `/image PATH [question]` in the chat (PNG, JPEG or DICOM), or `medgraph ask "
    "--image PATH`. Images belong to one message, so attach it again with each question."
)
FINDING_PROMPT = (
    "You answer a clinician's question about a draft chest X-ray report written by an AI "
    "model. Use only the report. Answer yes, no or uncertain, and give one short sentence "
    "from the report that supports the answer."
)
OPEN_PROMPT = (
    "You answer a clinician's question about a draft chest X-ray report written by an AI "
    "model. Use only the report. Answer in one or two short sentences. Do not make a diagnosis."
)
TOP_PROBABILITIES = 4
MAX_OPEN_CHARS = 400
MAX_OPEN_SENTENCES = 3
MIN_SENTENCE_WORDS = 3
ECHO_SHARE = 0.6
_MARKUP = re.compile(r"[<>{}\[\]#*`|\\]|https?://")
_VERDICT_WORD: dict[Verdict, str] = {"yes": "Yes", "no": "No", "uncertain": "Uncertain"}


class ReportTool(Protocol):
    """The report tool the agent calls (`RadiologyService` in production)."""

    def report(self, path: Path) -> RadiologyReport: ...


def _plain_prose(text: str, max_chars: int, max_sentences: int) -> bool:
    if not text or len(text) > max_chars or _MARKUP.search(text):
        return False
    letters = sum(ch.isalpha() for ch in text)
    return (
        letters >= 3 and letters / len(text) >= 0.6 and len(split_sentences(text)) <= max_sentences
    )


def _words(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z]+", text.lower()) if len(w) >= 4}


def _shares_words(answer: str, source: str) -> bool:
    """An answer about the report uses at least one of its (or the question's) content words."""
    return bool(_words(answer) & _words(source))


def _echoes(answer: str, prompt: str) -> bool:
    """Most of the answer's content words come from the prompt (a weak model repeating it)."""
    words = _words(answer)
    return bool(words) and len(words & _words(prompt)) / len(words) >= ECHO_SHARE


def contradicts_report(text: str, report: RadiologyReport) -> list[str]:
    """Conditions `text` states the opposite of what the report's evidence says."""
    stated = label_report(text)
    if not NORMAL_STUDY.search(text):
        stated["No Finding"] = "blank"
    clashes = []
    for condition in CONDITIONS:
        if stated[condition] not in ("positive", "negative"):
            continue
        verdict = read_evidence(report, condition).verdict
        if (stated[condition] == "positive" and verdict == "no") or (
            stated[condition] == "negative" and verdict == "yes"
        ):
            clashes.append(condition)
    return clashes


def _context(report: RadiologyReport) -> str:
    top = ", ".join(f"{c} {p:.2f}" for c, p in report.ranked_probabilities()[:TOP_PROBABILITIES])
    return (
        f"Report:\nFindings: {report.findings or '(none)'}\n"
        f"Impression: {report.impression or '(none)'}\n"
        f"Classifier probabilities: {top}"
    )


def report_section(report: RadiologyReport, heading: str) -> str:
    """The draft report, the classifier's top probabilities, the gate and the overlays."""
    top = ", ".join(f"{c} {p:.2f}" for c, p in report.ranked_probabilities()[:TOP_PROBABILITIES])
    folder = str(Path(report.attention_maps[0].path).parent)
    notices = [f"Model: {report.model_id}."]
    if report.phantom_trained:
        notices.append(PHANTOM_NOTICE)
    if not report.pretrained:
        notices.append(RANDOM_INIT_NOTICE)
    return "\n".join(
        [
            f"{heading}:",
            f"Findings: {report.findings or '(none generated)'}",
            f"Impression: {report.impression or '(none generated)'}",
            f"Classifier probabilities (highest first): {top}",
            f"Visual gate: {report.gate:.2f}",
            f"Attention heatmaps ({len(report.attention_maps)}, one per condition and region "
            f"query): {folder}",
            " ".join(notices),
        ]
    )


class RadiologyAgent:
    """Reports on attached chest X-rays and answers questions about the reports."""

    name: Intent = "radiology"

    def __init__(
        self,
        access: ModelAccess | None,
        tool: ReportTool,
        *,
        tool_calls: ToolCalls | None = None,
        role: str = "composer",
        max_tokens: int = 120,
    ) -> None:
        self._access = access
        self._tool = tool
        self._tools = tool_calls or ToolCalls()
        self._role = role
        self.max_tokens = max_tokens

    def run(self, task: AgentTask) -> AgentAnswer:
        """Report each attached image; answer the task's question from each report."""
        images = task.images()
        if not images:
            return AgentAnswer(order=task.order, agent=self.name, text=NO_IMAGE_REPLY)
        request = parse_request(task.text)
        sections: list[str] = []
        for number, image in enumerate(images, start=1):
            label = f"image {number}" if len(images) > 1 else "the attached image"
            try:
                report = self._report(image)
            except InputError as exc:
                sections.append(
                    f"I could not read {label}: {exc}. Please attach a PNG, JPEG or DICOM chest "
                    "radiograph (`/image PATH`)."
                )
                continue
            except AssetError as exc:
                sections.append(f"The radiology model is not available: {exc}.")
                break
            sections.append(self._reply(request, report, label))
        text = "\n\n".join(sections) + f"\n\n{REVIEW_NOTICE}"
        return AgentAnswer(order=task.order, agent=self.name, text=text)

    def _report(self, image: Attachment) -> RadiologyReport:
        return self._tools.run(
            "radiology_report",
            lambda: self._tool.report(Path(image.path)),
            args={"image_sha256": image.sha256},
            summary=lambda r: {
                "model_id": r.model_id,
                "phantom_trained": r.phantom_trained,
                "gate": round(r.gate, 3),
                "overlays": len(r.attention_maps),
            },
        )

    def _reply(self, request: RadiologyRequest, report: RadiologyReport, label: str) -> str:
        draft = report_section(report, f"Draft report for {label}")
        if isinstance(request, FindingQuestion):
            return f"{self.answer_finding(request, report)}\n\n{draft}"
        if isinstance(request, OpenQuestion):
            return f"{self.answer_open(request, report)}\n\n{draft}"
        return draft

    def answer_finding(self, question: FindingQuestion, report: RadiologyReport) -> str:
        """The report's answer to a yes/no finding question, with the paraphrase check."""
        evidence = read_evidence(report, question.condition)
        answers = self._ask_phrasings(question.phrasings, report)
        own = answers[0]
        sentence = self._deterministic_sentence(question.condition, report)
        if (
            own is not None
            and own.answer == evidence.verdict
            and _plain_prose(own.sentence, 240, 2)
            and len(own.sentence.split()) >= MIN_SENTENCE_WORDS
            and _shares_words(own.sentence, " ".join((report.text, *question.phrasings)))
            and not contradicts_report(own.sentence, report)
        ):
            sentence = own.sentence.strip()
        log.info(
            "radiology_finding_answer condition=%s verdict=%s composer_valid=%d",
            question.condition,
            evidence.verdict,
            sum(a is not None for a in answers),
        )
        lines = [f"Q: {question.asked}", f"Answer: {_VERDICT_WORD[evidence.verdict]}. {sentence}"]
        if evidence.classifier_disagrees:
            lines.append(
                f"Note: the model's classifier gives {question.condition} a probability of "
                f"{evidence.probability:.2f}, which points the other way."
            )
        lines.append(self._consistency(question, answers, evidence.verdict))
        return "\n".join(lines)

    def _ask_phrasings(
        self, phrasings: Sequence[str], report: RadiologyReport
    ) -> list[FindingAnswer | None]:
        if self._access is None:
            return [None for _ in phrasings]
        answers: list[FindingAnswer | None] = []
        for phrasing in phrasings:
            messages: list[BaseMessage] = [
                SystemMessage(FINDING_PROMPT),
                HumanMessage(f"{_context(report)}\n\nQuestion: {phrasing}"),
            ]
            try:
                answers.append(self._access.structured(self._role, FindingAnswer, messages))
            except StructuredOutputFailed:
                answers.append(None)
        return answers

    def _consistency(
        self,
        question: FindingQuestion,
        answers: Sequence[FindingAnswer | None],
        verdict: Verdict,
    ) -> str:
        if self._access is None:
            return "Consistency check: not run (no composer model is configured)."
        given = [(p, a.answer) for p, a in zip(question.phrasings, answers, strict=True) if a]
        if not given:
            return (
                "Consistency check: the composer model gave no valid answer to the three "
                "phrasings, so the answer comes from the report alone."
            )
        listed = "; ".join(f"“{p}” → {a}" for p, a in given)
        caution = (
            "The answer above is the report's own reading: treat it with extra caution and "
            "check the draft and heatmaps yourself."
        )
        if len({answer for _, answer in given}) > 1:
            return (
                "⚠ Consistency check: the answers DISAGREED when the question was asked in "
                f"different words ({listed}; the report's own reading → {verdict}). {caution}"
            )
        if given[0][1] != verdict:
            return (
                f"⚠ Consistency check: the composer model answered {given[0][1]} to every "
                f"phrasing ({listed}), which DOES NOT MATCH the report's own reading ({verdict}); "
                f"its answers were not used. {caution}"
            )
        asked = "; ".join(f"“{p}”" for p in question.phrasings)
        return f"Consistency check: asked three ways ({asked}), the answers agreed."

    @staticmethod
    def _deterministic_sentence(condition: str, report: RadiologyReport) -> str:
        evidence = read_evidence(report, condition)
        if evidence.sentences:
            return f"The draft report reads: “{evidence.sentences[0]}”"
        positives = [
            c for c, m in label_report(report.text).items() if m == "positive" and c != condition
        ]
        if condition == "No Finding" and positives:
            return f"The draft report describes {', '.join(positives)}."
        return (
            f"The draft report does not mention {condition.lower()}; the model's classifier "
            f"gives it a probability of {evidence.probability:.2f}."
        )

    def answer_open(self, question: OpenQuestion, report: RadiologyReport) -> str:
        """The composer's answer when it passes validation, else the report's summary."""
        if self._access is not None:
            messages: list[BaseMessage] = [
                SystemMessage(OPEN_PROMPT),
                HumanMessage(f"{_context(report)}\n\nQuestion: {question.text}\nAnswer:"),
            ]
            raw = self._access.complete(
                self._role, messages, max_tokens=self.max_tokens, stop=["\n\n", "Question:"]
            )
            answer = raw.strip().split("\n", 1)[0].strip()
            clashes = contradicts_report(answer, report)
            valid = (
                _plain_prose(answer, MAX_OPEN_CHARS, MAX_OPEN_SENTENCES)
                and _shares_words(answer, f"{report.text} {question.text}")
                and not _echoes(answer, OPEN_PROMPT)
                and not clashes
            )
            log.info("radiology_open_answer valid=%s clashes=%d", valid, len(clashes))
            if valid:
                return f"Q: {question.text}\nAnswer (from the draft report): {answer}"
        return f"Q: {question.text}\nAnswer: {self._summary(report)}"

    @staticmethod
    def _summary(report: RadiologyReport) -> str:
        labels = label_report(report.text)
        present = [c for c, m in labels.items() if m == "positive" and c != "No Finding"]
        uncertain = [c for c, m in labels.items() if m == "uncertain"]
        if present:
            described = f"It describes: {', '.join(present)}."
        elif labels["No Finding"] == "positive":
            described = "It reads as a study without abnormal findings."
        else:
            described = "It names none of the 14 conditions the report labeller knows."
        parts = ["I can only answer from the draft report below.", described]
        if uncertain:
            parts.append(f"It is uncertain about: {', '.join(uncertain)}.")
        if report.impression:
            parts.append(f"Its impression reads: “{report.impression}”")
        return " ".join(parts)
