"""Which findings a phantom shows, and what the 14 CheXpert-style conditions say about them.

Finding names carry laterality in the patient's frame: `effusion_left` is the patient's left
side, drawn on the IMAGE RIGHT of a frontal film.

Usage:
    spec = PhantomSpec.parse("cardiomegaly,effusion_left")
    spec.conditions()          # ("Cardiomegaly", "Pleural Effusion")
    spec.labels()              # float32 vector over CONDITIONS, 1.0 where positive
    spec = sample_spec(np.random.default_rng(0))   # a realistic random combination
"""

from __future__ import annotations

from typing import Literal, get_args

import numpy as np
from pydantic import BaseModel, ConfigDict, field_validator

from state.errors import InputError
from tools.radiology.conditions import CONDITIONS

FindingName = Literal[
    "cardiomegaly",
    "effusion_left",
    "effusion_right",
    "consolidation_left",
    "consolidation_right",
    "opacity_left",
    "opacity_right",
    "atelectasis_left",
    "atelectasis_right",
    "pneumothorax_left",
    "pneumothorax_right",
    "edema",
    "nodule_left",
    "nodule_right",
    "fracture_left",
    "fracture_right",
    "devices",
]
FINDINGS: tuple[FindingName, ...] = get_args(FindingName)
Side = Literal["left", "right"]
NORMAL_WORDS = ("normal", "none")

# Consolidation is a dense airspace opacity, so it also makes "Lung Opacity" positive (the
# CheXpert hierarchy). Other findings map to their own condition only, as a CheXpert-style
# labeller reading a report that names them would. Enlarged Cardiomediastinum, Pneumonia and
# Pleural Other are never drawn.
FINDING_CONDITIONS: dict[FindingName, tuple[str, ...]] = {
    "cardiomegaly": ("Cardiomegaly",),
    "effusion_left": ("Pleural Effusion",),
    "effusion_right": ("Pleural Effusion",),
    "consolidation_left": ("Consolidation", "Lung Opacity"),
    "consolidation_right": ("Consolidation", "Lung Opacity"),
    "opacity_left": ("Lung Opacity",),
    "opacity_right": ("Lung Opacity",),
    "atelectasis_left": ("Atelectasis",),
    "atelectasis_right": ("Atelectasis",),
    "pneumothorax_left": ("Pneumothorax",),
    "pneumothorax_right": ("Pneumothorax",),
    "edema": ("Edema",),
    "nodule_left": ("Lung Lesion",),
    "nodule_right": ("Lung Lesion",),
    "fracture_left": ("Fracture",),
    "fracture_right": ("Fracture",),
    "devices": ("Support Devices",),
}
# As in CheXpert, support devices alone still leave "No Finding" positive.
_NOT_PATHOLOGY: frozenset[str] = frozenset({"devices"})


def finding_side(name: FindingName) -> Side | None:
    """The patient's side a finding is on, or None for a central or bilateral one."""
    suffix = name.rsplit("_", 1)[-1]
    return suffix if suffix in ("left", "right") else None  # type: ignore[return-value]


class PhantomSpec(BaseModel):
    """The findings one phantom shows; empty means a normal film."""

    model_config = ConfigDict(frozen=True)

    findings: tuple[FindingName, ...] = ()

    @field_validator("findings")
    @classmethod
    def _canonical_order(cls, findings: tuple[FindingName, ...]) -> tuple[FindingName, ...]:
        return tuple(name for name in FINDINGS if name in findings)

    @classmethod
    def parse(cls, text: str) -> PhantomSpec:
        """Parse a comma-separated findings string; `normal` (or `none`, or "") means none."""
        names = [part.strip().lower() for part in text.split(",") if part.strip()]
        if len(names) == 1 and names[0] in NORMAL_WORDS:
            return cls()
        unknown = [name for name in names if name not in FINDINGS]
        if unknown:
            raise InputError(
                f"unknown phantom finding(s) {', '.join(unknown)}; valid findings: "
                f"{', '.join(FINDINGS)}, or 'normal' alone"
            )
        return cls(findings=tuple(names))  # type: ignore[arg-type]

    def __str__(self) -> str:
        return ",".join(self.findings) or "normal"

    @property
    def normal(self) -> bool:
        """True when the film shows no pathology (support devices are not one)."""
        return all(name in _NOT_PATHOLOGY for name in self.findings)

    def conditions(self) -> tuple[str, ...]:
        """The positive conditions, in CONDITIONS order."""
        positive = {c for name in self.findings for c in FINDING_CONDITIONS[name]}
        if self.normal:
            positive.add("No Finding")
        return tuple(condition for condition in CONDITIONS if condition in positive)

    def labels(self) -> np.ndarray:
        """A float32 vector over CONDITIONS: 1.0 for each positive condition, else 0.0."""
        positive = set(self.conditions())
        return np.array([c in positive for c in CONDITIONS], dtype=np.float32)


# Relative frequency of each kind of finding in sampled abnormal films.
_KIND_WEIGHTS: dict[str, float] = {
    "cardiomegaly": 0.15,
    "effusion": 0.14,
    "consolidation": 0.10,
    "opacity": 0.10,
    "atelectasis": 0.09,
    "pneumothorax": 0.08,
    "edema": 0.08,
    "nodule": 0.10,
    "fracture": 0.07,
    "devices": 0.09,
}
_LATERAL_KINDS = frozenset(
    {"effusion", "consolidation", "opacity", "atelectasis", "pneumothorax", "nodule", "fracture"}
)
P_NORMAL = 0.3
P_BILATERAL_EFFUSION = 0.25
P_EDEMA_WITH_CARDIOMEGALY = 0.5


def sample_spec(rng: np.random.Generator) -> PhantomSpec:
    """A random, plausible finding combination: normal films with P_NORMAL, else 1–3 kinds.

    Effusions are sometimes bilateral, and edema often comes with cardiomegaly (heart failure).
    """
    if rng.random() < P_NORMAL:
        return PhantomSpec()
    kinds = list(_KIND_WEIGHTS)
    weights = np.array(list(_KIND_WEIGHTS.values()))
    count = int(rng.choice([1, 2, 3], p=[0.5, 0.35, 0.15]))
    chosen = [
        str(k) for k in rng.choice(kinds, size=count, replace=False, p=weights / weights.sum())
    ]
    names: list[str] = []
    for kind in chosen:
        if kind not in _LATERAL_KINDS:
            names.append(kind)
        elif kind == "effusion" and rng.random() < P_BILATERAL_EFFUSION:
            names += ["effusion_left", "effusion_right"]
        else:
            names.append(f"{kind}_{'left' if rng.random() < 0.5 else 'right'}")
    if "edema" in names and rng.random() < P_EDEMA_WITH_CARDIOMEGALY:
        names.append("cardiomegaly")
    return PhantomSpec(findings=tuple(names))  # type: ignore[arg-type]
