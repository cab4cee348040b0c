"""Radiology labeller eval: the rule labeller against the human MeSH terms of the IU X-ray reports.

Every indexed report (3,860 of 3,955; the 95 tagged `No Indexing` carry no human labels) is
labelled from its raw FINDINGS and IMPRESSION text, and each condition the MeSH vocabulary can
express is compared with the report's `major` MeSH terms (`Heading/qualifier/...`):

- Cardiomegaly: Cardiomegaly; Cardiac Shadow or Heart with `enlarged`.
- Enlarged Cardiomediastinum: Mediastinum with `enlarged`, `widened` or `prominent` (not its
  lymph nodes or vessels).
- Lung Opacity: Opacity, Density, Infiltrate, Airspace Disease (lung sites); Markings or Lung
  with `interstitial`; Lung Diseases, Interstitial.
- Lung Lesion: Nodule, Mass, Cavitation, Cysts (lung sites); Opacity or Density with `round`
  (the indexers' code for a nodular opacity).
- Edema: Pulmonary Edema, Pulmonary Congestion, Heart Failure, Edema (lung sites).
- Consolidation: Consolidation. Pneumonia: Pneumonia. Atelectasis: Pulmonary Atelectasis.
- Pneumothorax: Pneumothorax, Hydropneumothorax, Hemopneumothorax.
- Pleural Effusion: Pleural Effusion, Hydropneumothorax, Hemopneumothorax, Hemothorax.
- Pleural Other: Thickening, Calcinosis or Cicatrix with `pleura`; Pleura.
- Fracture: Fractures, Bone.
- Support Devices: Catheters, Indwelling; Implanted Medical Device; Tube, Inserted; Medical
  Device; Surgical Instruments; Stents; Sutures.
- No Finding: `normal`, or only Support Devices terms (CheXpert's No Finding ignores devices).

"Lung sites" leaves out terms whose qualifiers name a place outside the lung (ribs, spine,
breast, mediastinum, ...).

A labeller "positive" counts as a finding and "uncertain" does not: the same convention as the
clinical F1 in `tools/radiology/metrics.py`. The indexers tag most hedged findings ("concerning
for pneumonia") not at all but some ("borderline cardiomegaly", "atelectasis or scarring") as
findings, so neither convention fits them exactly; the run also prints macro-F1 with
"uncertain" counted as a finding (`--uncertain positive` prints that table).

Run: `python -m evals.radiology_labeller` (reads the cached torchxrayvision data; downloads the
wheel once when the cache is empty).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from pydantic import BaseModel, ConfigDict
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from tools.radiology.assets import ensure_radiology_data
from tools.radiology.labeller import label_report
from tools.radiology.report_text import format_report, report_target
from tools.radiology.reports import IUReport, load_iu_reports

NOT_LUNG = frozenset(
    {
        "abdomen",
        "aorta",
        "bone and bones",
        "breast",
        "cervical vertebrae",
        "clavicle",
        "diaphragm",
        "heart",
        "humerus",
        "lumbar vertebrae",
        "mediastinum",
        "neck",
        "paratracheal",
        "pleura",
        "ribs",
        "scapula",
        "shoulder",
        "soft tissue",
        "spine",
        "sternum",
        "thoracic vertebrae",
        "trachea",
    }
)
DEVICE_HEADINGS = frozenset(
    {
        "Catheters, Indwelling",
        "Implanted Medical Device",
        "Tube, Inserted",
        "Medical Device",
        "Surgical Instruments",
        "Stents",
        "Sutures",
    }
)

Term = tuple[str, frozenset[str]]
"""A MeSH term as its heading and its set of lowercased qualifiers."""


def _heading_in(*headings: str) -> Callable[[Term], bool]:
    return lambda term: term[0] in headings


def _in_lung(*headings: str) -> Callable[[Term], bool]:
    return lambda term: term[0] in headings and not (term[1] & NOT_LUNG)


def _with(heading: str, *qualifiers: str) -> Callable[[Term], bool]:
    return lambda term: term[0] == heading and bool(term[1] & set(qualifiers))


def _mediastinum_enlarged(term: Term) -> bool:
    return _with("Mediastinum", "enlarged", "widened", "prominent")(term) and not (
        term[1] & {"lymph nodes", "blood vessels"}
    )


MESH_RULES: dict[str, tuple[Callable[[Term], bool], ...]] = {
    "Cardiomegaly": (
        _heading_in("Cardiomegaly"),
        _with("Cardiac Shadow", "enlarged"),
        _with("Heart", "enlarged"),
    ),
    "Enlarged Cardiomediastinum": (_mediastinum_enlarged,),
    "Lung Opacity": (
        _in_lung("Opacity", "Density", "Infiltrate", "Airspace Disease"),
        _with("Markings", "interstitial"),
        _with("Lung", "interstitial"),
        _heading_in("Lung Diseases, Interstitial"),
    ),
    "Lung Lesion": (
        _in_lung("Nodule", "Mass", "Cavitation", "Cysts"),
        lambda term: _in_lung("Opacity", "Density")(term) and "round" in term[1],
    ),
    "Edema": (
        _heading_in("Pulmonary Edema", "Pulmonary Congestion", "Heart Failure"),
        _in_lung("Edema"),
    ),
    "Consolidation": (_heading_in("Consolidation"),),
    "Pneumonia": (_heading_in("Pneumonia"),),
    "Atelectasis": (_heading_in("Pulmonary Atelectasis"),),
    "Pneumothorax": (_heading_in("Pneumothorax", "Hydropneumothorax", "Hemopneumothorax"),),
    "Pleural Effusion": (
        _heading_in("Pleural Effusion", "Hydropneumothorax", "Hemopneumothorax", "Hemothorax"),
    ),
    "Pleural Other": (
        _with("Thickening", "pleura"),
        _with("Calcinosis", "pleura"),
        _with("Cicatrix", "pleura"),
        _heading_in("Pleura"),
    ),
    "Fracture": (_heading_in("Fractures, Bone"),),
    "Support Devices": (_heading_in(*DEVICE_HEADINGS),),
}
EVALUATED = (*MESH_RULES, "No Finding")


def _term(text: str) -> Term:
    heading, *qualifiers = (part.strip() for part in text.split("/"))
    return heading, frozenset(q.lower() for q in qualifiers)


def is_indexed(report: IUReport) -> bool:
    """False for reports the indexers skipped (`No Indexing`): they carry no human labels."""
    return bool(report.mesh_major) and not any(
        t.startswith("No Indexing") for t in report.mesh_major
    )


def mesh_conditions(report: IUReport) -> set[str]:
    """The conditions a report's human MeSH terms assert, by the mapping in the module doc."""
    terms = [_term(t) for t in report.mesh_major]
    found = {c for c, rules in MESH_RULES.items() if any(r(t) for t in terms for r in rules)}
    if all(t[0] in DEVICE_HEADINGS or t[0] == "normal" for t in terms):
        found.add("No Finding")
    return found


class ConditionScore(BaseModel):
    """Precision, recall and F1 of one condition; support counts MeSH positives."""

    model_config = ConfigDict(frozen=True)

    precision: float
    recall: float
    f1: float
    support: int
    predicted: int


class LabellerReport(BaseModel):
    """Per-condition scores and their macro-F1 over the evaluated conditions."""

    model_config = ConfigDict(frozen=True)

    reports: int
    skipped_unindexed: int
    uncertain_as_positive: bool
    per_condition: dict[str, ConditionScore]
    macro_f1: float


def _score(true_positive: int, predicted: int, support: int) -> ConditionScore:
    precision = true_positive / predicted if predicted else 0.0
    recall = true_positive / support if support else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return ConditionScore(
        precision=precision, recall=recall, f1=f1, support=support, predicted=predicted
    )


def predicted_conditions(text: str, uncertain_as_positive: bool = False) -> set[str]:
    """The evaluated conditions the labeller finds in `text`."""
    found = {"positive", "uncertain"} if uncertain_as_positive else {"positive"}
    labels = label_report(text)
    return {c for c in EVALUATED if labels[c] in found}


def evaluate(
    reports: Sequence[IUReport],
    uncertain_as_positive: bool = False,
    text_of: Callable[[IUReport], str] = lambda r: format_report(r.findings, r.impression),
) -> LabellerReport:
    """Label every indexed report and score each evaluated condition against MeSH."""
    indexed = [r for r in reports if is_indexed(r)]
    pairs = [
        (mesh_conditions(r), predicted_conditions(text_of(r), uncertain_as_positive))
        for r in indexed
    ]
    per_condition = {
        c: _score(
            sum(c in gold and c in pred for gold, pred in pairs),
            sum(c in pred for _, pred in pairs),
            sum(c in gold for gold, _ in pairs),
        )
        for c in EVALUATED
    }
    return LabellerReport(
        reports=len(indexed),
        skipped_unindexed=len(reports) - len(indexed),
        uncertain_as_positive=uncertain_as_positive,
        per_condition=per_condition,
        macro_f1=sum(s.f1 for s in per_condition.values()) / len(per_condition),
    )


def render(report: LabellerReport, console: Console, title: str) -> None:
    """Print the per-condition table with macro-F1."""
    table = Table(title=f"{title}: macro-F1 {report.macro_f1:.3f}")
    for column in ("condition", "precision", "recall", "F1", "support", "predicted"):
        table.add_column(column, justify="left" if column == "condition" else "right")
    for condition, s in report.per_condition.items():
        table.add_row(
            condition,
            f"{s.precision:.3f}",
            f"{s.recall:.3f}",
            f"{s.f1:.3f}",
            str(s.support),
            str(s.predicted),
        )
    table.add_row("macro", "", "", f"{report.macro_f1:.3f}", "", "", style="bold")
    console.print(table)
    console.print(
        f"{report.reports} indexed reports ({report.skipped_unindexed} 'No Indexing' left out); "
        f"uncertain counted as {'positive' if report.uncertain_as_positive else 'negative'}."
    )


def _show_errors(reports: Sequence[IUReport], condition: str, limit: int, console: Console) -> None:
    shown = 0
    for r in reports:
        if not is_indexed(r) or shown >= limit:
            continue
        text = format_report(r.findings, r.impression)
        gold, pred = condition in mesh_conditions(r), condition in predicted_conditions(text)
        if gold != pred:
            shown += 1
            kind = "FN" if gold else "FP"
            console.print(
                f"[bold]{kind}[/] {escape(f'{r.uid} {list(r.mesh_major)}')}\n  {escape(text)}"
            )


def main(argv: Sequence[str] | None = None) -> None:
    """Run the eval on all IU X-ray reports and print the table."""
    from app.settings import Settings

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache-dir", type=Path, default=None, help="default: the settings'")
    parser.add_argument("--uncertain", choices=("positive", "negative"), default="negative")
    parser.add_argument("--errors", metavar="CONDITION", help="print disagreements for one")
    parser.add_argument("--limit", type=int, default=40, help="how many disagreements to print")
    args = parser.parse_args(argv)
    console = Console(width=160)
    if args.errors and args.errors not in EVALUATED:
        console.print(f"unknown condition {args.errors!r}; one of: {', '.join(EVALUATED)}")
        sys.exit(2)
    cache_dir = args.cache_dir or Settings().cache_dir
    reports = load_iu_reports(ensure_radiology_data(cache_dir).reports_tgz)
    if args.errors:
        _show_errors(reports, args.errors, args.limit, console)
        return
    uncertain_as_positive = args.uncertain == "positive"
    render(
        evaluate(reports, uncertain_as_positive),
        console,
        title="Report labeller vs IU X-ray MeSH (raw FINDINGS + IMPRESSION)",
    )
    other = evaluate(reports, not uncertain_as_positive)
    cleaned = evaluate(reports, uncertain_as_positive, text_of=report_target)
    console.print(
        f"With uncertain counted as {'negative' if uncertain_as_positive else 'positive'}: "
        f"macro-F1 {other.macro_f1:.3f}. On the §5.4-cleaned text (sentences with XXXX "
        f"dropped, so findings there are lost): macro-F1 {cleaned.macro_f1:.3f}."
    )


if __name__ == "__main__":
    main()
