"""Reading the real IU X-ray report XMLs and the Kaggle CSV layout."""

from __future__ import annotations

import csv
import tarfile
from pathlib import Path

import pytest

from app.settings import Settings
from state.errors import AssetError
from tools.radiology.assets import ensure_radiology_data
from tools.radiology.reports import IUReport, load_iu_reports, load_kaggle_reports


@pytest.fixture(scope="module")
def reports() -> list[IUReport]:
    return load_iu_reports(ensure_radiology_data(Settings().cache_dir).reports_tgz)


def test_reads_all_3955_reports_with_unique_ids_in_numeric_order(
    reports: list[IUReport],
) -> None:
    assert len(reports) == 3955
    uids = [int(r.uid) for r in reports]
    assert len(set(uids)) == 3955
    assert uids == sorted(uids)


def test_reports_carry_sections_mesh_terms_and_images(reports: list[IUReport]) -> None:
    first = reports[0]
    assert first.uid == "1"
    assert first.findings.startswith("The cardiac silhouette and mediastinum size")
    assert first.impression == "Normal chest x-XXXX."
    assert first.indication == "Positive TB test"
    assert first.comparison == "None."
    assert first.mesh_major == ("normal",)
    assert first.images == ("CXR1_1_IM-0001-3001", "CXR1_1_IM-0001-4001")
    assert sum(bool(r.impression) for r in reports) > 3900
    assert sum(bool(r.findings) for r in reports) > 3400
    assert all(r.mesh_major for r in reports)
    assert sum("normal" in r.mesh_major for r in reports) > 1000
    assert any(r.mesh_automatic for r in reports)


def test_missing_or_corrupt_archive_is_an_asset_error(tmp_path: Path) -> None:
    with pytest.raises(AssetError, match="not found"):
        load_iu_reports(tmp_path / "absent.tgz")
    broken = tmp_path / "broken.tgz"
    broken.write_bytes(b"not a tar archive")
    with pytest.raises(AssetError, match="not a readable report archive"):
        load_iu_reports(broken)


def test_malformed_xml_names_the_member(tmp_path: Path) -> None:
    member = tmp_path / "ecgen-radiology" / "7.xml"
    member.parent.mkdir()
    member.write_text("<eCitation><IUXRId id='7'/>", encoding="utf-8")
    archive = tmp_path / "reports.tgz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(member, arcname="ecgen-radiology/7.xml")
    with pytest.raises(AssetError, match=r"7\.xml"):
        load_iu_reports(archive)


def _write_csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def test_kaggle_layout_keeps_frontal_images_and_drops_reports_without_one(
    tmp_path: Path,
) -> None:
    reports_csv = _write_csv(
        tmp_path / "indiana_reports.csv",
        ["uid", "MeSH", "Problems", "image", "indication", "comparison", "findings", "impression"],
        [
            ["2", "Cardiomegaly/borderline;Pulmonary Artery/enlarged", "Cardiomegaly", "x",
             "Preop", "None.", "Borderline  cardiomegaly.", "No acute findings."],
            ["1", "normal", "normal", "x", "TB", "", "The heart is normal.", "Normal chest."],
            ["3", "normal", "normal", "x", "", "", "", "Lateral only."],
        ],
    )  # fmt: skip
    projections_csv = _write_csv(
        tmp_path / "indiana_projections.csv",
        ["uid", "filename", "projection"],
        [
            ["1", "1_IM-0001-4001.dcm.png", "Frontal"],
            ["1", "1_IM-0001-3001.dcm.png", "Lateral"],
            ["2", "2_IM-0652-1001.dcm.png", "Frontal"],
            ["3", "3_IM-1384-2001.dcm.png", "Lateral"],
        ],
    )
    reports = load_kaggle_reports(reports_csv, projections_csv)
    assert [r.uid for r in reports] == ["1", "2"]
    assert reports[0].images == ("1_IM-0001-4001.dcm.png",)
    assert reports[1].mesh_major == ("Cardiomegaly/borderline", "Pulmonary Artery/enlarged")
    assert reports[1].findings == "Borderline cardiomegaly."
    assert reports[1].indication == "Preop"


def test_kaggle_csv_without_required_columns_is_an_asset_error(tmp_path: Path) -> None:
    reports_csv = _write_csv(tmp_path / "r.csv", ["uid", "findings"], [["1", "x"]])
    projections_csv = _write_csv(tmp_path / "p.csv", ["uid", "filename", "projection"], [])
    with pytest.raises(AssetError, match="lacks the columns MeSH"):
        load_kaggle_reports(reports_csv, projections_csv)
