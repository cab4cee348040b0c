"""What a radiology message asks, the paraphrases of a finding question, and the report's evidence.

A message is a report request ("draft a report"), a yes/no finding question ("Is the heart
enlarged?"), or another question about the report. A finding question names one of the 14
conditions through a cue; its two paraphrases are the condition's other fixed phrasings. The
evidence for a condition is deterministic: the labeller's reading of the report text, and the
auxiliary head's probability when the report does not mention it.

Usage:
    request = parse_request("Is the heart enlarged?")        # FindingQuestion(Cardiomegaly)
    request.phrasings    # ("Is the heart enlarged?", "Is there cardiomegaly?", "Is the ...")
    evidence = read_evidence(report, "Cardiomegaly")
    evidence.verdict     # "yes" | "no" | "uncertain"
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from tools.radiology.conditions import CONDITIONS, Mention
from tools.radiology.labeller import label_report
from tools.radiology.report_schema import RadiologyReport
from tools.radiology.report_text import split_sentences

Verdict = Literal["yes", "no", "uncertain"]
PROBABILITY_THRESHOLD = 0.5
NO_FINDING = "No Finding"
# The labeller calls any text without a positive finding "No Finding"; a text states a normal
# study only with words like these.
NORMAL_STUDY = re.compile(
    r"\b(?:normal|unremarkable)\s+(?:chest|study|radiograph|x-?ray|film|exam\w*)|"
    r"\b(?:chest|study|radiograph|x-?ray|film)\s+(?:is|looks|appears)\s+(?:normal|unremarkable)|"
    r"\bno\s+(?:acute\s+)?(?:abnormalit\w*|findings?\b|cardiopulmonary)",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class ConditionCue:
    """How users ask about one condition, and three fixed ways to ask about it."""

    condition: str
    pattern: re.Pattern[str]
    phrasings: tuple[str, str, str]


def _cue(condition: str, pattern: str, *phrasings: str) -> ConditionCue:
    first, second, third = phrasings
    return ConditionCue(condition, re.compile(pattern, re.IGNORECASE), (first, second, third))


CUES: tuple[ConditionCue, ...] = (
    _cue(
        "Cardiomegaly",
        r"cardiomegal|(?:heart|cardiac)\b.{0,30}\b(?:enlarg|big|large)|"
        r"(?:enlarg\w*|big|large)\s+(?:heart|cardiac)|cardiothoracic ratio",
        "Is the heart enlarged?",
        "Is there cardiomegaly?",
        "Is the cardiac silhouette enlarged?",
    ),
    _cue(
        "Pleural Effusion",
        r"effusion|fluid\b.{0,20}\b(?:pleura|around the lung)|costophrenic",
        "Is there a pleural effusion?",
        "Is there fluid in the pleural space?",
        "Are the costophrenic angles blunted?",
    ),
    _cue(
        "Pneumothorax",
        r"pneumothora|collapsed lung|air\b.{0,20}\bpleura",
        "Is there a pneumothorax?",
        "Is there air in the pleural space?",
        "Is there a collapsed lung?",
    ),
    _cue(
        "Edema",
        r"o?edema|fluid overload|fluid (?:in|within) the lung|vascular congestion|perihilar haze",
        "Is there pulmonary edema?",
        "Is there fluid in the lung tissue?",
        "Are there signs of pulmonary vascular congestion?",
    ),
    _cue(
        "Consolidation",
        r"consolidat|airspace disease",
        "Is there consolidation?",
        "Is there airspace consolidation in the lungs?",
        "Is any lung region consolidated?",
    ),
    _cue(
        "Pneumonia",
        r"pneumonia|infection",
        "Is there pneumonia?",
        "Are there signs of a lung infection?",
        "Does the image suggest pneumonia?",
    ),
    _cue(
        "Atelectasis",
        r"atelecta|collapse",
        "Is there atelectasis?",
        "Is part of a lung collapsed?",
        "Is there volume loss from atelectasis?",
    ),
    _cue(
        "Lung Lesion",
        r"nodul|lesion|mass\b|tumou?r",
        "Is there a lung nodule?",
        "Is there a lung lesion or mass?",
        "Is there a focal nodule in the lungs?",
    ),
    _cue(
        "Lung Opacity",
        r"opaci|shadow|densit",
        "Is there a lung opacity?",
        "Is any part of the lungs opacified?",
        "Is there an abnormal density in the lungs?",
    ),
    _cue(
        "Fracture",
        r"fractur|broken",
        "Is there a fracture?",
        "Is a rib broken?",
        "Is there a bone fracture?",
    ),
    _cue(
        "Support Devices",
        r"device|tube|\blines?\b|catheter|pacemaker|wire",
        "Are there support devices?",
        "Is there a tube, line or other device?",
        "Are any medical devices visible?",
    ),
    _cue(
        "Enlarged Cardiomediastinum",
        r"mediastin",
        "Is the mediastinum widened?",
        "Is the cardiomediastinal silhouette enlarged?",
        "Is there mediastinal widening?",
    ),
    _cue(
        "Pleural Other",
        r"pleural (?:thicken|plaque|abnormalit)",
        "Is there pleural thickening?",
        "Are there pleural plaques?",
        "Is there another pleural abnormality?",
    ),
    _cue(
        NO_FINDING,
        r"\b(?:x-?ray|film|study|image|radiograph|scan|chest|it|this)\s+(?:looks?\s+)?normal\b|"
        r"\bnormal\s+(?:study|chest|film|x-?ray|radiograph|exam)|free of abnormal|"
        r"anything (?:wrong|abnormal)|any (?:abnormalit|findings?\b)",
        "Is the chest X-ray normal?",
        "Is this a normal study?",
        "Is the study free of abnormal findings?",
    ),
)
_YES_NO = re.compile(
    r"^(?:please\s+|and\s+|so\s+|but\s+)?(?:is|are|was|were|does|do|did|has|have|any|can|could|"
    r"would|should|might|may|will|there)\b",
    re.IGNORECASE,
)
_OPEN = re.compile(
    r"^(?:what|which|where|why|how|describe|explain|tell|summari[sz]e|list|show)\b", re.IGNORECASE
)
_REPORT_REQUEST = re.compile(
    r"\b(?:draft|write|generate|produce|make|create|read)\b.{0,30}\b(?:report|it|this|image|film|"
    r"x-?ray|radiograph)\b|^(?:report|read)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class ReportRequest:
    """A request to draft the report, with no question to answer."""


@dataclass(frozen=True)
class FindingQuestion:
    """A yes/no question about one condition, with two paraphrases to check consistency."""

    condition: str
    asked: str
    paraphrases: tuple[str, str]

    @property
    def phrasings(self) -> tuple[str, str, str]:
        """The user's question first, then the two paraphrases."""
        return (self.asked, *self.paraphrases)


@dataclass(frozen=True)
class OpenQuestion:
    """Any other question about the report."""

    text: str


RadiologyRequest = ReportRequest | FindingQuestion | OpenQuestion


def _normalised(text: str) -> str:
    return re.sub(r"[^a-z ]", "", text.lower()).strip()


def parse_request(text: str) -> RadiologyRequest:
    """Classify a radiology message; a finding question gets its two paraphrases."""
    stripped = " ".join(text.split())
    is_question = stripped.endswith("?") or bool(_YES_NO.match(stripped) or _OPEN.match(stripped))
    if not is_question or (_REPORT_REQUEST.search(stripped) and not stripped.endswith("?")):
        return ReportRequest()
    if _YES_NO.match(stripped):
        for cue in CUES:
            if cue.pattern.search(stripped):
                asked = _normalised(stripped)
                others = [p for p in cue.phrasings if _normalised(p) != asked]
                return FindingQuestion(cue.condition, stripped, (others[0], others[1]))
    if _REPORT_REQUEST.search(stripped):
        return ReportRequest()
    return OpenQuestion(stripped)


@dataclass(frozen=True)
class Evidence:
    """What the report says about one condition, read deterministically."""

    condition: str
    mention: Mention
    probability: float
    verdict: Verdict
    sentences: tuple[str, ...]

    @property
    def classifier_disagrees(self) -> bool:
        """The report text and the auxiliary head point different ways."""
        leans_yes = self.probability >= PROBABILITY_THRESHOLD
        return (self.mention == "positive" and not leans_yes) or (
            self.mention == "negative" and leans_yes
        )


def report_sentences(report: RadiologyReport) -> list[str]:
    """The findings and impression sentences of a report."""
    return [s for part in (report.findings, report.impression) for s in split_sentences(part)]


def _verdict(
    condition: str, mention: Mention, probability: float, labels: dict[str, Mention]
) -> Verdict:
    if mention == "positive":
        return "yes"
    if mention == "negative":
        return "no"
    if mention == "uncertain":
        return "uncertain"
    if condition == NO_FINDING and any(
        labels[c] in ("positive", "uncertain") for c in CONDITIONS if c != NO_FINDING
    ):
        return "no"
    return "uncertain" if probability >= PROBABILITY_THRESHOLD else "no"


def read_evidence(report: RadiologyReport, condition: str) -> Evidence:
    """The labeller's mention of `condition` in the report, its probability, and the verdict.

    Not mentioned and a low probability reads as "no"; not mentioned with a probability of
    0.5 or more reads as "uncertain" (the text and the classifier do not agree).
    """
    labels = label_report(report.text)
    mention = labels[condition]
    probability = report.aux_probabilities[condition]
    quoted = tuple(
        s
        for s in report_sentences(report)
        if label_report(s)[condition] != "blank"
        and (condition != NO_FINDING or NORMAL_STUDY.search(s))
    )
    return Evidence(
        condition=condition,
        mention=mention,
        probability=probability,
        verdict=_verdict(condition, mention, probability, labels),
        sentences=quoted,
    )
