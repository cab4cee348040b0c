"""Phantom–report pairing: clean labels only, the report's findings and sides, tempered draws."""

from __future__ import annotations

import numpy as np
import pytest

from state.errors import InputError
from tests.tools.radiology.training_support import corpus
from tools.radiology.labeller import label_report
from tools.radiology.pairing import (
    DRAWABLE_CONDITIONS,
    NEVER_DRAWN,
    ReportCatalog,
    is_pairable,
    mention_sides,
    pairable_report,
    report_conditions,
)
from tools.radiology.phantom_spec import FINDING_CONDITIONS, finding_side
from tools.radiology.reports import IUReport


def _report(findings: str, impression: str = "", uid: str = "1") -> IUReport:
    return IUReport(uid=uid, findings=findings, impression=impression)


def test_drawable_and_never_drawn_conditions_split_the_fourteen() -> None:
    assert set(NEVER_DRAWN) == {"Enlarged Cardiomediastinum", "Pneumonia", "Pleural Other"}
    assert len(DRAWABLE_CONDITIONS) == 11 and not set(DRAWABLE_CONDITIONS) & set(NEVER_DRAWN)


def test_consolidation_counts_as_a_lung_opacity() -> None:
    text = "Findings: Focal consolidation in the right lower lobe. | Impression: Consolidation."
    assert label_report(text)["Lung Opacity"] == "blank"
    assert {"Consolidation", "Lung Opacity"} <= report_conditions(text)


@pytest.mark.parametrize(
    "text",
    [
        "Findings: Right lower lobe pneumonia. | Impression: Pneumonia.",
        "Findings: Possible small left pleural effusion. | Impression: Possible effusion.",
    ],
)
def test_reports_with_undrawable_or_uncertain_findings_are_not_pairable(text) -> None:
    assert not is_pairable(label_report(text))
    assert pairable_report(_report(text.split("|")[0].removeprefix("Findings:"))) is None


def test_devices_beside_an_undrawable_abnormality_are_not_pairable() -> None:
    # "No Finding" is blank (granuloma), but a phantom with only devices is a normal film.
    report = _report("Calcified granuloma in the left upper lobe. Right subclavian catheter.")
    assert pairable_report(report) is None


@pytest.mark.parametrize(
    ("text", "condition", "sides"),
    [
        ("Small left pleural effusion.", "Pleural Effusion", {"left"}),
        ("Bilateral pleural effusions.", "Pleural Effusion", {"left", "right"}),
        ("Right lower lobe nodule.", "Lung Lesion", {"right"}),
        ("Bibasilar atelectasis.", "Atelectasis", {"left", "right"}),
        ("No right pleural effusion. Cardiomegaly.", "Pleural Effusion", set()),
        ("Small pleural effusion.", "Pleural Effusion", set()),
    ],
)
def test_sides_come_from_words_near_positive_mentions(text, condition, sides) -> None:
    assert mention_sides(text, condition) == sides


def test_a_report_gives_its_phantom_its_findings_and_sides() -> None:
    report = pairable_report(
        _report("Heart is enlarged. Small left pleural effusion.", "Cardiomegaly, effusion.")
    )
    assert report is not None
    spec = report.spec(np.random.default_rng(0))
    assert set(spec.findings) == {"cardiomegaly", "effusion_left"}
    assert frozenset(spec.conditions()) == report.conditions


def test_an_open_side_is_drawn_deterministically_from_the_rng() -> None:
    report = pairable_report(_report("Right lower lobe atelectasis.", "Atelectasis."))
    open_side = pairable_report(_report("Calcified lung nodule.", "Nodule."))
    assert report is not None and open_side is not None
    assert report.spec(np.random.default_rng(1)).findings == ("atelectasis_right",)
    drawn = {open_side.spec(np.random.default_rng(seed)).findings for seed in range(12)}
    assert drawn == {("nodule_left",), ("nodule_right",)}
    assert open_side.spec(np.random.default_rng(3)) == open_side.spec(np.random.default_rng(3))


def test_every_pairable_real_report_labels_exactly_what_its_phantom_shows() -> None:
    rng = np.random.default_rng(0)
    pairable = corpus().pairable("train")
    assert len(pairable) > 1000
    for report in pairable:
        spec = report.spec(rng)
        assert frozenset(spec.conditions()) == report.conditions == report_conditions(report.target)
        for kind in {name.rsplit("_", 1)[0] for name in spec.findings if finding_side(name)}:
            drawn = {finding_side(n) for n in spec.findings if n.rsplit("_", 1)[0] == kind}
            stated = report.sides.get(FINDING_CONDITIONS[f"{kind}_left"][0], frozenset())  # type: ignore[index]
            assert drawn == stated if stated else len(drawn) == 1


def test_catalog_keeps_the_shortest_reports_per_set_and_draws_deterministically() -> None:
    pairable = corpus().pairable("train")
    catalog = ReportCatalog(pairable, reports_per_set=3, min_words=12)
    for condition_set, choices in zip(catalog.sets, catalog.choices, strict=True):
        members = [r for r in pairable if r.conditions == condition_set]
        assert len(choices) == min(3, len(members))
        long_enough = [r.words for r in members if r.words >= 12] or [r.words for r in members]
        assert [r.words for r in choices] == sorted(long_enough)[: len(choices)]
    first = [catalog.draw(np.random.default_rng(5)) for _ in range(3)]
    again = [catalog.draw(np.random.default_rng(5)) for _ in range(3)]
    assert first == again


def test_temper_flattens_the_condition_set_frequencies() -> None:
    pairable = corpus().pairable("train")
    real = ReportCatalog(pairable, temper=1.0).condition_frequencies()
    tempered = ReportCatalog(pairable, temper=0.5).condition_frequencies()
    assert real["No Finding"] > 0.5 > tempered["No Finding"]
    assert tempered["Pneumothorax"] > real["Pneumothorax"]


def test_catalog_without_reports_is_an_input_error() -> None:
    with pytest.raises(InputError):
        ReportCatalog([])
    with pytest.raises(InputError):
        ReportCatalog(corpus().pairable("train"), reports_per_set=0)
