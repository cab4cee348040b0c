"""Wire shapes of the radiology tool: the report, its overlays and notices, and the QA answer.

Usage:
    report = RadiologyReport(findings=..., impression=..., text=..., aux_probabilities={...},
                             gate=0.61, attention_maps=[...], model_id="chexquery-medvlm-tiny",
                             pretrained=False, phantom_trained=True, image_digest="3fa9...")
    report.notice              # review notice, plus "trained on synthetic phantoms" when so
    report.model_dump_json()   # what `medgraph radiology generate --json` prints
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, Field, computed_field, field_validator, model_validator

from tools.guards.clinical_safety import REVIEW_NOTICE
from tools.radiology.conditions import CONDITIONS, REGIONS

PHANTOM_NOTICE = (
    "This model was trained on synthetic chest phantoms, not on real radiographs: "
    "its output is a technical demonstration, not for clinical use."
)
RANDOM_INIT_NOTICE = (
    "Its SigLIP and Flan-T5 backbones were not pretrained (random initialisation; "
    "no pretrained weights were available offline)."
)
_SECTIONS = re.compile(
    r"^\s*(?:findings\s*:)?\s*(?P<findings>.*?)\s*(?:\|\s*)?impression\s*:\s*(?P<impression>.*)$",
    re.IGNORECASE | re.DOTALL,
)
_FINDINGS_PREFIX = re.compile(r"^\s*findings\s*:\s*", re.IGNORECASE)

QueryKind = Literal["condition", "region"]
QUERY_NAMES: tuple[str, ...] = (*CONDITIONS, *REGIONS)


def split_sections(text: str) -> tuple[str, str]:
    """`Findings: … | Impression: …` into (findings, impression); no impression gives ""."""
    match = _SECTIONS.match(text)
    if match is None:
        return _FINDINGS_PREFIX.sub("", text).strip(" |"), ""
    return match["findings"].strip(" |"), match["impression"].strip(" |")


def report_notice(*, pretrained: bool, phantom_trained: bool) -> str:
    """The notice every report carries: the review notice, and how the model was made."""
    parts = [REVIEW_NOTICE]
    if phantom_trained:
        parts.append(PHANTOM_NOTICE)
    if not pretrained:
        parts.append(RANDOM_INIT_NOTICE)
    return " ".join(parts)


class AttentionOverlay(BaseModel):
    """One query's last-layer attention over the patch grid, drawn over the image as a PNG."""

    query: str = Field(description="the condition or anatomical region the query stands for")
    kind: QueryKind
    path: str = Field(description="the PNG overlay on this machine")
    peak: tuple[float, float] = Field(
        description="where the attention peaks, as (row, column) fractions of the image side"
    )

    @field_validator("query")
    @classmethod
    def _known_query(cls, value: str) -> str:
        if value not in QUERY_NAMES:
            raise ValueError(f"unknown query {value!r}")
        return value


class RadiologyReport(BaseModel):
    """A draft chest X-ray report from CheXQuery-MedVLM, with its image-side outputs."""

    findings: str
    impression: str
    text: str = Field(description="the generated text as decoded (after the prompt)")
    aux_probabilities: dict[str, float] = Field(
        description="the auxiliary head's probability for each of the 14 conditions"
    )
    gate: float = Field(ge=0.0, le=1.0, description="how much the CLS token passes the gate")
    attention_maps: list[AttentionOverlay] = Field(
        description="one overlay per condition query, then one per region query (20)"
    )
    model_id: str
    pretrained: bool
    phantom_trained: bool
    image_digest: str = Field(
        min_length=64, max_length=64, description="SHA-256 of the pixels the model saw"
    )

    @field_validator("aux_probabilities")
    @classmethod
    def _all_conditions(cls, value: dict[str, float]) -> dict[str, float]:
        if set(value) != set(CONDITIONS):
            raise ValueError("aux_probabilities must hold exactly the 14 conditions")
        if any(not 0.0 <= p <= 1.0 for p in value.values()):
            raise ValueError("aux_probabilities must lie in [0, 1]")
        return {name: value[name] for name in CONDITIONS}

    @model_validator(mode="after")
    def _one_overlay_per_query(self) -> RadiologyReport:
        if tuple(m.query for m in self.attention_maps) != QUERY_NAMES:
            raise ValueError("attention_maps must hold one overlay per query, in query order")
        return self

    @computed_field  # type: ignore[prop-decorator]
    @property
    def notice(self) -> str:
        """Review notice, plus the phantom-training and random-init notices where they apply."""
        return report_notice(pretrained=self.pretrained, phantom_trained=self.phantom_trained)

    def ranked_probabilities(self) -> list[tuple[str, float]]:
        """Conditions by the auxiliary head's probability, highest first."""
        return sorted(self.aux_probabilities.items(), key=lambda item: -item[1])


class FindingAnswer(BaseModel):
    """The composer's structured answer to a yes/no question about one finding of a report."""

    answer: Literal["yes", "no", "uncertain"]
    sentence: str = Field(
        max_length=240, description="one short sentence from the report that supports the answer"
    )
