"""The report labeller against the human MeSH terms of all IU X-ray reports (real data)."""

from __future__ import annotations

import pytest
from rich.console import Console

from app.settings import Settings
from evals.radiology_labeller import (
    EVALUATED,
    LabellerReport,
    evaluate,
    is_indexed,
    mesh_conditions,
    render,
)
from tools.radiology.assets import ensure_radiology_data
from tools.radiology.reports import IUReport, load_iu_reports


@pytest.fixture(scope="module")
def reports() -> list[IUReport]:
    return load_iu_reports(ensure_radiology_data(Settings().cache_dir).reports_tgz)


@pytest.fixture(scope="module")
def report(reports: list[IUReport]) -> LabellerReport:
    return evaluate(reports)


def test_mesh_mapping_reads_headings_and_qualifiers() -> None:
    def conditions(*terms: str) -> set[str]:
        return mesh_conditions(IUReport(uid="1", mesh_major=terms))

    assert conditions("normal") == {"No Finding"}
    assert conditions("Cardiac Shadow/enlarged/mild") == {"Cardiomegaly"}
    assert conditions("Opacity/ribs/anterior") == set()
    assert conditions("Opacity/lung/base/left") == {"Lung Opacity"}
    assert conditions("Density/lung/upper lobe/right/round") == {"Lung Opacity", "Lung Lesion"}
    assert conditions("Catheters, Indwelling/right") == {"Support Devices", "No Finding"}
    assert conditions("Hydropneumothorax/right") == {"Pneumothorax", "Pleural Effusion"}
    assert not is_indexed(IUReport(uid="2", mesh_major=("No Indexing",)))


def test_labeller_meets_macro_f1_085_on_all_indexed_reports(
    report: LabellerReport, capsys: pytest.CaptureFixture[str]
) -> None:
    with capsys.disabled():
        render(report, Console(width=120), title="Report labeller vs IU X-ray MeSH")
    assert report.reports + report.skipped_unindexed == 3955
    assert report.skipped_unindexed == 95
    assert set(report.per_condition) == set(EVALUATED)
    assert report.macro_f1 >= 0.85
    assert all(score.f1 >= 0.7 for score in report.per_condition.values())


def test_counting_uncertain_as_positive_also_meets_the_bar(reports: list[IUReport]) -> None:
    assert evaluate(reports, uncertain_as_positive=True).macro_f1 >= 0.85
