"""Judge rubrics as data: the YAML files in `evals/rubrics/`, validated into `Rubric`s.

A rubric carries what an LLM judge is told (question, scale, level descriptions) and what the
offline judge checks instead (which texts to compare with, similarity range, keyword checks).

Usage:
    rubrics = load_rubrics()                 # {"faithfulness": Rubric, ...}
    rubrics["clinical_safety"].normalise(4)  # 0.75 on a 1-5 scale
"""

from __future__ import annotations

import hashlib
import re
from importlib import resources
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from state.errors import ConfigError

RUBRIC_DIR = Path(str(resources.files("evals").joinpath("rubrics")))
ReferenceKind = Literal["sources", "reference", "question"]


class Scale(BaseModel):
    """The integer score range the judge answers in."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    min: int = 1
    max: int = 5

    @model_validator(mode="after")
    def _ordered(self) -> Scale:
        if not 0 <= self.min < self.max <= 9:
            raise ValueError("a scale is single digits with min < max")
        return self


class Similarity(BaseModel):
    """Cosine similarities mapped linearly to 0 (at `low`) .. 1 (at `high`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    low: float = Field(ge=-1, le=1)
    high: float = Field(ge=-1, le=1)


class Check(BaseModel):
    """A keyword check of the offline judge; a failed check subtracts its weight."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    kind: Literal["forbid", "require_any", "numbers_in_references", "min_words"]
    patterns: list[str] = Field(default_factory=list)
    words: int = 0
    weight: float = Field(gt=0, le=1)

    @model_validator(mode="after")
    def _complete(self) -> Check:
        if self.kind in ("forbid", "require_any") and not self.patterns:
            raise ValueError(f"check {self.name!r} ({self.kind}) needs patterns")
        for pattern in self.patterns:
            re.compile(pattern)
        return self


class OfflineSpec(BaseModel):
    """How the offline judge scores this rubric."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    references: list[ReferenceKind] = Field(min_length=1)
    per_sentence: bool = False
    similarity: Similarity
    weight_similarity: float = Field(ge=0, le=1)
    checks: list[Check] = Field(default_factory=list)


class Rubric(BaseModel):
    """One rubric: the LLM judge's instructions and the offline judge's recipe."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z_]+$")
    version: int = Field(ge=1)
    title: str
    applies_to: list[str]
    scale: Scale
    question: str
    levels: dict[int, str]
    offline: OfflineSpec

    @model_validator(mode="after")
    def _levels_cover_scale(self) -> Rubric:
        expected = set(range(self.scale.min, self.scale.max + 1))
        if set(self.levels) != expected:
            raise ValueError(f"levels must describe every score {sorted(expected)}")
        return self

    @property
    def digest(self) -> str:
        """A content hash: a changed rubric never reuses cached verdicts (computed each time,
        so a `model_copy` with changes never carries the original's hash)."""
        return hashlib.sha256(self.model_dump_json().encode()).hexdigest()[:16]

    def normalise(self, raw: float) -> float:
        """A score on the rubric's scale mapped to 0..1."""
        return (raw - self.scale.min) / (self.scale.max - self.scale.min)

    def prompt(self) -> str:
        """The judge's system prompt for scoring one answer."""
        levels = "\n".join(f"{k}: {v}" for k, v in sorted(self.levels.items()))
        return (
            f"You are a strict evaluator. Rubric: {self.title}.\n{self.question}\n"
            f"Score from {self.scale.min} to {self.scale.max}:\n{levels}\n"
            f"Reply with the score only, as one digit."
        )


def load_rubric(path: Path) -> Rubric:
    """Read and validate one rubric file; its name must match the file name."""
    try:
        rubric = Rubric.model_validate(yaml.safe_load(path.read_text("utf-8")))
    except (OSError, yaml.YAMLError, ValidationError) as exc:
        raise ConfigError(f"rubric {path.name} is invalid: {exc}") from exc
    if rubric.name != path.stem:
        raise ConfigError(f"rubric {path.name} is named {rubric.name!r}; name it as its file")
    return rubric


def load_rubrics(directory: Path = RUBRIC_DIR) -> dict[str, Rubric]:
    """Every rubric in the directory, by name."""
    rubrics = {p.stem: load_rubric(p) for p in sorted(directory.glob("*.yaml"))}
    if not rubrics:
        raise ConfigError(f"no rubrics in {directory}")
    return rubrics
