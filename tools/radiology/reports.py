"""Read IU X-ray reports: the Open-i XMLs in NLMCXR_reports.tgz, or the Kaggle CSV layout.

Usage:
    files = ensure_radiology_data(cache_dir)
    reports = load_iu_reports(files.reports_tgz)          # 3,955 IUReport, sorted by uid
    reports[0].findings, reports[0].mesh_major            # text and human MeSH terms
    kaggle = load_kaggle_reports(Path("indiana_reports.csv"), Path("indiana_projections.csv"))
"""

from __future__ import annotations

import csv
import tarfile
import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from state.errors import AssetError

_SECTIONS = ("FINDINGS", "IMPRESSION", "INDICATION", "COMPARISON")
_KAGGLE_REPORT_COLUMNS = ("uid", "MeSH", "indication", "comparison", "findings", "impression")
_KAGGLE_PROJECTION_COLUMNS = ("uid", "filename", "projection")


class IUReport(BaseModel):
    """One IU X-ray report (one patient study).

    `mesh_major` holds the MeSH terms people assigned (e.g. `Cardiomegaly/mild`, `normal`);
    `mesh_automatic` the machine-extracted ones, absent from the Kaggle layout. `images` are the
    Open-i `parentImage` ids, or the frontal image file names in the Kaggle layout.
    """

    model_config = ConfigDict(frozen=True)

    uid: str
    findings: str = ""
    impression: str = ""
    indication: str = ""
    comparison: str = ""
    mesh_major: tuple[str, ...] = ()
    mesh_automatic: tuple[str, ...] = ()
    images: tuple[str, ...] = ()


def _text(element: ET.Element | None) -> str:
    return " ".join((element.text or "").split()) if element is not None else ""


def parse_report_xml(data: bytes, source: str) -> IUReport:
    """Parse one Open-i report XML document; `source` names it in errors."""
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise AssetError(f"{source}: not a readable report XML ({exc})") from exc
    uid_element = root.find("IUXRId")
    uid = uid_element.get("id") if uid_element is not None else None
    if not uid:
        raise AssetError(f"{source}: the report has no IUXRId")
    sections = {element.get("Label", ""): _text(element) for element in root.iter("AbstractText")}
    return IUReport(
        uid=uid,
        findings=sections.get("FINDINGS", ""),
        impression=sections.get("IMPRESSION", ""),
        indication=sections.get("INDICATION", ""),
        comparison=sections.get("COMPARISON", ""),
        mesh_major=tuple(_text(e) for e in root.findall("MeSH/major") if _text(e)),
        mesh_automatic=tuple(_text(e) for e in root.findall("MeSH/automatic") if _text(e)),
        images=tuple(e.get("id", "") for e in root.findall("parentImage") if e.get("id")),
    )


def _uid_order(report: IUReport) -> tuple[int, str]:
    return (int(report.uid), report.uid) if report.uid.isdigit() else (-1, report.uid)


def load_iu_reports(reports_tgz: Path) -> list[IUReport]:
    """All reports in the Open-i `NLMCXR_reports.tgz`, read in memory, sorted by numeric uid."""
    if not reports_tgz.is_file():
        raise AssetError(
            f"IU X-ray reports not found at {reports_tgz}; run ensure_radiology_data(cache_dir)"
        )
    reports: list[IUReport] = []
    try:
        with tarfile.open(reports_tgz, "r:gz") as archive:
            for member in archive:
                if not (member.isfile() and member.name.endswith(".xml")):
                    continue
                handle = archive.extractfile(member)
                if handle is None:
                    raise AssetError(f"{reports_tgz.name}: cannot read {member.name}")
                reports.append(parse_report_xml(handle.read(), f"{reports_tgz.name}:{member.name}"))
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise AssetError(f"{reports_tgz}: not a readable report archive ({exc})") from exc
    if not reports:
        raise AssetError(f"{reports_tgz}: the archive holds no report XMLs")
    return sorted(reports, key=_uid_order)


def _read_csv(path: Path, required: tuple[str, ...]) -> list[dict[str, str]]:
    if not path.is_file():
        raise AssetError(f"{path} not found")
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            missing = [c for c in required if c not in (reader.fieldnames or [])]
            if missing:
                raise AssetError(f"{path.name} lacks the columns {', '.join(missing)}")
            return list(reader)
    except (UnicodeDecodeError, csv.Error) as exc:
        raise AssetError(f"{path}: not a readable CSV ({exc})") from exc


def _split_terms(value: str) -> tuple[str, ...]:
    return tuple(t.strip() for t in value.split(";") if t.strip())


def load_kaggle_reports(reports_csv: Path, projections_csv: Path) -> list[IUReport]:
    """Reports from Kaggle's `indiana_reports.csv` with their frontal images from
    `indiana_projections.csv`; reports without a frontal image are left out (spec §5.1)."""
    frontal: dict[str, list[str]] = defaultdict(list)
    for row in _read_csv(projections_csv, _KAGGLE_PROJECTION_COLUMNS):
        if row["projection"].strip().lower() == "frontal":
            frontal[row["uid"].strip()].append(row["filename"].strip())
    reports = [
        IUReport(
            uid=row["uid"].strip(),
            findings=" ".join(row["findings"].split()),
            impression=" ".join(row["impression"].split()),
            indication=" ".join(row["indication"].split()),
            comparison=" ".join(row["comparison"].split()),
            mesh_major=_split_terms(row["MeSH"]),
            images=tuple(sorted(frontal[row["uid"].strip()])),
        )
        for row in _read_csv(reports_csv, _KAGGLE_REPORT_COLUMNS)
        if frontal.get(row["uid"].strip())
    ]
    return sorted(reports, key=_uid_order)
