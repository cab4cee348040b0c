"""Versioned eval datasets: the manifest of every JSONL file, hash checks, validated loading.

`evals/data/manifest.yaml` names each dataset with its file, version, SHA-256 and item count.
Loading a dataset checks the file against its entry, so a changed file cannot be scored under
an old version. After editing or adding a JSONL file, bump the manifest:

    .venv/bin/python -m evals.datasets refresh   # new hash + version+1 for changed files;
                                                 # new *.jsonl files get an entry at version 1

Usage:
    ref = dataset("conversations")                   # DatasetRef(name, version, sha256, items)
    rows = load_jsonl("conversations", Conversation)  # pydantic-validated, line numbers on error
"""

from __future__ import annotations

import hashlib
import sys
from importlib import resources
from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from evals.results import DatasetRef
from state.errors import ConfigError

DATA_DIR = Path(str(resources.files("evals").joinpath("data")))
MANIFEST = DATA_DIR / "manifest.yaml"
ModelT = TypeVar("ModelT", bound=BaseModel)


class ManifestEntry(BaseModel):
    """One dataset in the manifest."""

    model_config = ConfigDict(extra="forbid")

    file: str
    version: int = Field(ge=1)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    items: int = Field(ge=0)
    description: str = ""


class Manifest(BaseModel):
    """Every dataset, by name."""

    model_config = ConfigDict(extra="forbid")

    datasets: dict[str, ManifestEntry]


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _count(path: Path) -> int:
    return sum(1 for line in path.read_text("utf-8").splitlines() if line.strip())


def load_manifest(path: Path = MANIFEST) -> Manifest:
    """Read and validate the manifest."""
    try:
        return Manifest.model_validate(yaml.safe_load(path.read_text("utf-8")))
    except (OSError, yaml.YAMLError, ValidationError) as exc:
        raise ConfigError(f"eval dataset manifest {path} is unreadable: {exc}") from exc


def dataset(name: str, manifest_path: Path = MANIFEST) -> tuple[DatasetRef, Path]:
    """The dataset's reference and file, after checking the file against the manifest."""
    manifest = load_manifest(manifest_path)
    entry = manifest.datasets.get(name)
    if entry is None:
        known = ", ".join(sorted(manifest.datasets))
        raise ConfigError(f"no eval dataset {name!r} in {manifest_path.name}; known: {known}")
    path = manifest_path.parent / entry.file
    if not path.is_file():
        raise ConfigError(f"eval dataset {name!r} is missing its file {path}")
    digest = _sha256(path)
    if digest != entry.sha256:
        raise ConfigError(
            f"eval dataset {name!r} ({entry.file}) changed since version {entry.version}; "
            "run `python -m evals.datasets refresh` to record a new version"
        )
    return DatasetRef(name=name, version=entry.version, sha256=digest, items=entry.items), path


def parse_jsonl(path: Path, model: type[ModelT]) -> list[ModelT]:
    """Validate every non-blank line of a JSONL file as `model`."""
    rows: list[ModelT] = []
    for number, line in enumerate(path.read_text("utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            rows.append(model.model_validate_json(line))
        except ValidationError as exc:
            raise ConfigError(f"{path.name} line {number}: {exc}") from exc
    return rows


def load_jsonl(
    name: str, model: type[ModelT], manifest_path: Path = MANIFEST
) -> tuple[DatasetRef, list[ModelT]]:
    """A checked dataset's rows, each validated as `model`."""
    ref, path = dataset(name, manifest_path)
    return ref, parse_jsonl(path, model)


def refresh(manifest_path: Path = MANIFEST) -> list[str]:
    """Record new hashes (version + 1 where a file changed) and add unlisted JSONL files."""
    manifest = load_manifest(manifest_path) if manifest_path.is_file() else Manifest(datasets={})
    changes: list[str] = []
    listed = {e.file for e in manifest.datasets.values()}
    for path in sorted(manifest_path.parent.glob("*.jsonl")):
        if path.name not in listed:
            manifest.datasets[path.stem] = ManifestEntry(
                file=path.name, version=1, sha256=_sha256(path), items=_count(path)
            )
            changes.append(f"added {path.stem} (version 1)")
    for name, entry in manifest.datasets.items():
        path = manifest_path.parent / entry.file
        if not path.is_file():
            raise ConfigError(f"manifest entry {name!r} names a missing file {entry.file}")
        digest = _sha256(path)
        if digest != entry.sha256:
            entry.version += 1
            entry.sha256 = digest
            entry.items = _count(path)
            changes.append(f"{name} changed: now version {entry.version}")
    header = (
        "# Eval datasets: file, version, SHA-256 and item count. A changed file needs a new\n"
        "# version: run `python -m evals.datasets refresh` after editing or adding a file.\n"
    )
    body = yaml.safe_dump(
        manifest.model_dump(mode="json"), sort_keys=True, allow_unicode=True, width=100
    )
    manifest_path.write_text(header + body, "utf-8")
    return changes


def main(argv: list[str]) -> int:
    """`refresh` rewrites the manifest; anything else prints the usage."""
    if argv != ["refresh"]:
        print("usage: python -m evals.datasets refresh")
        return 2
    for change in refresh() or ["no changes"]:
        print(change)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
