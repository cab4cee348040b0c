"""Pair phantoms with real IU reports: which reports a phantom can show, and what each one shows.

A report is pairable when its labeller labels are clean for phantoms: no condition a phantom can
never draw (Enlarged Cardiomediastinum, Pneumonia, Pleural Other) is positive or uncertain, and
no drawable condition is uncertain. Its positive conditions (with the CheXpert hierarchy that
the phantoms follow: consolidation is a lung opacity) then say exactly which findings its
phantom draws, and the report's own words say on which side ("small left pleural effusion").

Usage:
    pairable = pairable_reports(reports)                  # PairableReport per clean report
    catalog = ReportCatalog(pairable, reports_per_set=4)  # the 4 shortest per condition set
    pair = catalog.draw(np.random.default_rng(0))         # spec, report uid, target, seed
    pair.spec.conditions() == report_conditions(pair.target)   # always true
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from state.errors import InputError
from tools.radiology.conditions import CONDITIONS, Mention
from tools.radiology.labeller import classify_mention, label_report
from tools.radiology.labeller_rules import CLAUSE_BREAK, MENTIONS
from tools.radiology.phantom_spec import FINDING_CONDITIONS, PhantomSpec, Side
from tools.radiology.report_text import normalize_unicode, report_target, split_sentences
from tools.radiology.reports import IUReport

NO_FINDING = "No Finding"
DRAWABLE_CONDITIONS: tuple[str, ...] = tuple(
    c for c in CONDITIONS if c == NO_FINDING or any(c in v for v in FINDING_CONDITIONS.values())
)
"""The conditions a phantom can show (11 of the 14)."""
NEVER_DRAWN: tuple[str, ...] = tuple(c for c in CONDITIONS if c not in DRAWABLE_CONDITIONS)

IMPLIED: Mapping[str, str] = {"Consolidation": "Lung Opacity"}
"""CheXpert's hierarchy as the phantoms draw it: a consolidation is also a lung opacity."""

# The finding kind that shows each condition; a lateral kind gets `_left` / `_right`.
_KIND_OF: Mapping[str, str] = {
    "Cardiomegaly": "cardiomegaly",
    "Edema": "edema",
    "Support Devices": "devices",
    "Pleural Effusion": "effusion",
    "Consolidation": "consolidation",
    "Lung Opacity": "opacity",
    "Atelectasis": "atelectasis",
    "Pneumothorax": "pneumothorax",
    "Lung Lesion": "nodule",
    "Fracture": "fracture",
}
_LATERAL = frozenset(
    {"effusion", "consolidation", "opacity", "atelectasis", "pneumothorax", "nodule", "fracture"}
)
_SIDE_WORDS: Mapping[str, re.Pattern[str]] = {
    "left": re.compile(r"\bleft\b"),
    "right": re.compile(r"\bright\b"),
    "both": re.compile(r"\b(?:bilateral(?:ly)?|bibasilar|bibasal|both)\b"),
}
SIDE_WINDOW = 60
"""Characters either side of a mention searched for a side word (within its clause)."""


def report_conditions(text: str, labels: Mapping[str, Mention] | None = None) -> frozenset[str]:
    """The conditions a report states as positive, by the labeller, with `IMPLIED` parents."""
    labels = labels if labels is not None else label_report(text)
    return with_implied({c for c in CONDITIONS if labels[c] == "positive"})


def with_implied(positive: set[str]) -> frozenset[str]:
    """Positive conditions with the `IMPLIED` parent of each (consolidation → lung opacity)."""
    return frozenset(positive | {IMPLIED[c] for c in positive if c in IMPLIED})


def is_pairable(labels: Mapping[str, Mention]) -> bool:
    """Whether a report's labels can be drawn exactly: never-drawn conditions absent (or
    negative), drawable ones certain, and at least one positive (No Finding counts)."""
    if any(labels[c] in ("positive", "uncertain") for c in NEVER_DRAWN):
        return False
    if any(labels[c] == "uncertain" for c in DRAWABLE_CONDITIONS):
        return False
    return any(labels[c] == "positive" for c in DRAWABLE_CONDITIONS)


def _clauses(text: str) -> Iterator[str]:
    for sentence in split_sentences(normalize_unicode(text).replace("|", ". ")):
        for clause in CLAUSE_BREAK.split(sentence.lower()):
            if clause.strip():
                yield f" {clause.strip()} "


def mention_sides(text: str, condition: str) -> frozenset[Side]:
    """The patient sides a report gives for its positive mentions of `condition`.

    A side word ("left", "right"; "bilateral", "bibasilar", "both" for both) counts when it is
    within `SIDE_WINDOW` characters of a positive mention in the same clause. Empty when the
    report names no side.
    """
    pattern = MENTIONS.get(condition)
    if pattern is None:
        return frozenset()
    sides: set[Side] = set()
    for clause in _clauses(text):
        for match in pattern.finditer(clause):
            if classify_mention(clause, match.start(), match.end()) != "positive":
                continue
            window = clause[max(0, match.start() - SIDE_WINDOW) : match.end() + SIDE_WINDOW]
            found = {side for side, words in _SIDE_WORDS.items() if words.search(window)}
            if "both" in found:
                found = {"left", "right"}
            sides.update(found)  # type: ignore[arg-type]
    return frozenset(sides)


@dataclass(frozen=True)
class PairableReport:
    """A report a phantom can be drawn for: its training target, conditions and sides."""

    uid: str
    target: str
    conditions: frozenset[str]
    sides: Mapping[str, frozenset[Side]]

    @property
    def words(self) -> int:
        """Length of the target in words."""
        return len(self.target.split())

    def spec(self, rng: np.random.Generator) -> PhantomSpec:
        """The phantom findings this report describes; a side the report leaves open is drawn
        from `rng` (the same rng state gives the same spec)."""
        kinds = [_KIND_OF[c] for c in CONDITIONS if c in self.conditions and c in _KIND_OF]
        if "consolidation" in kinds and "opacity" in kinds:
            kinds.remove("opacity")  # the consolidation already draws the lung opacity
        names: list[str] = []
        for kind in kinds:
            if kind not in _LATERAL:
                names.append(kind)
                continue
            condition = next(c for c, k in _KIND_OF.items() if k == kind)
            sides = sorted(self.sides.get(condition, frozenset()))
            if not sides:
                sides = ["left" if rng.random() < 0.5 else "right"]
            names += [f"{kind}_{side}" for side in sides]
        return PhantomSpec(findings=tuple(names))  # type: ignore[arg-type]


def pairable_report(report: IUReport) -> PairableReport | None:
    """The report as a pairable target, or None when it is empty or its labels are unclean."""
    target = report_target(report)
    if not target:
        return None
    labels = label_report(target)
    if not is_pairable(labels):
        return None
    conditions = report_conditions(target, labels)
    lateral = [c for c in conditions if _KIND_OF.get(c) in _LATERAL]
    pairable = PairableReport(
        uid=report.uid,
        target=target,
        conditions=conditions,
        sides={c: mention_sides(target, c) for c in lateral},
    )
    # Support devices with other, undrawable abnormalities ("No Finding" blank) has no phantom.
    drawn = pairable.spec(np.random.default_rng(0)).conditions()
    return pairable if frozenset(drawn) == conditions else None


def pairable_reports(reports: Sequence[IUReport]) -> list[PairableReport]:
    """The pairable reports among `reports`, in their order."""
    return [p for p in (pairable_report(r) for r in reports) if p is not None]


@dataclass(frozen=True)
class PhantomPair:
    """One phantom to draw (findings and seed) and the real report that describes it."""

    spec: PhantomSpec
    seed: int
    report_uid: str
    target: str


class ReportCatalog:
    """Pairable reports grouped by condition set, drawn with tempered set frequencies.

    A condition set is drawn with probability ∝ (its number of reports) ** `temper`: 1 keeps
    the real frequencies (mostly normal films), 0 makes every set equally likely. Within a set,
    the report is drawn uniformly from its `reports_per_set` shortest (all when None), so that
    a small model sees a few short texts per finding combination.
    """

    def __init__(
        self,
        reports: Sequence[PairableReport],
        *,
        reports_per_set: int | None = None,
        min_words: int = 0,
        temper: float = 0.5,
    ) -> None:
        if reports_per_set is not None and reports_per_set < 1:
            raise InputError(f"reports_per_set must be >= 1, got {reports_per_set}")
        groups: dict[frozenset[str], list[PairableReport]] = defaultdict(list)
        for report in reports:
            groups[report.conditions].append(report)
        self.sets: list[frozenset[str]] = sorted(groups, key=lambda s: (-len(groups[s]), sorted(s)))
        if not self.sets:
            raise InputError("no pairable reports to draw phantoms for")
        self.counts = np.array([len(groups[s]) for s in self.sets], dtype=np.float64)
        weights = self.counts**temper
        self.probabilities = weights / weights.sum()
        self.choices: list[list[PairableReport]] = []
        for condition_set in self.sets:
            members = groups[condition_set]
            long_enough = [r for r in members if r.words >= min_words] or members
            ranked = sorted(long_enough, key=lambda r: (r.words, r.uid))
            self.choices.append(ranked[:reports_per_set] if reports_per_set else ranked)

    def draw(self, rng: np.random.Generator) -> PhantomPair:
        """A condition set, one of its reports, the phantom's sides and its seed."""
        index = int(rng.choice(len(self.sets), p=self.probabilities))
        choices = self.choices[index]
        report = choices[int(rng.integers(len(choices)))]
        spec = report.spec(rng)
        return PhantomPair(
            spec=spec,
            seed=int(rng.integers(2**31 - 1)),
            report_uid=report.uid,
            target=report.target,
        )

    def condition_frequencies(self) -> dict[str, float]:
        """The share of drawn phantoms expected to show each drawable condition."""
        return {
            c: float(sum(p for s, p in zip(self.sets, self.probabilities, strict=True) if c in s))
            for c in DRAWABLE_CONDITIONS
        }
