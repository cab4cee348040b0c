"""The policy corpus: Markdown policies whose headings carry stable section ids like `POL-PHI-3.2`.

Usage:
    corpus = PolicyCorpus.load()                 # tools/policy/corpus/ shipped with MedGraph
    corpus.section("POL-SHARE-2.1").title        # 'Channels for patient copies'
    section_id_of(("POL-SHARE Sharing…", "POL-SHARE-2 Reports…", "POL-SHARE-2.1 Channels…"))

Each document opens with `# POL-XXX Title`; every heading below it starts with an id of the same
prefix (`## POL-XXX-2 …`, `### POL-XXX-2.1 …`). Ids are unique across the corpus, so a citation
names one section wherever it appears. The corpus version is a digest of the files' bytes.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from state.errors import AssetError

CORPUS_DIR = Path(__file__).parent / "corpus"
SECTION_ID = re.compile(r"^(POL-[A-Z]+(?:-\d+(?:\.\d+)*)?)\s+(\S.*)$")
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")


@dataclass(frozen=True)
class PolicySection:
    """One numbered section of a policy: its id, heading title, document and own text."""

    id: str
    title: str
    document: str
    source: str
    text: str

    @property
    def first_sentence(self) -> str:
        """The section's opening sentence (what an explanation quotes)."""
        match = re.match(r"(.+?[.!?])(\s|$)", self.text)
        return match.group(1) if match else self.text


def section_id_of(section_path: Sequence[str]) -> str | None:
    """The id at the start of the innermost heading of a chunk's section path, if any."""
    if not section_path:
        return None
    match = SECTION_ID.match(section_path[-1])
    return match.group(1) if match else None


def _parse(path: Path) -> list[PolicySection]:
    """Sections of one policy file, each with its text up to the next heading."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise AssetError(f"policy file {path} cannot be read: {exc}") from exc
    prefix = document = ""
    found: list[tuple[str, str, list[str]]] = []
    for number, line in enumerate(lines, start=1):
        heading = _HEADING.match(line)
        if heading is None:
            if found and line.strip():
                found[-1][2].append(line.strip())
            continue
        match = SECTION_ID.match(heading.group(2))
        if match is None:
            raise AssetError(f"{path.name}:{number}: heading without a section id: {line!r}")
        section_id, title = match.groups()
        if not prefix:
            if len(heading.group(1)) != 1 or section_id.count("-") != 1:
                raise AssetError(f"{path.name}:{number}: a policy opens with '# POL-XXX Title'")
            prefix, document = section_id, title
        elif not section_id.startswith(prefix + "-"):
            raise AssetError(f"{path.name}:{number}: {section_id} is not under {prefix}")
        found.append((section_id, title, []))
    return [
        PolicySection(section_id, title, document, path.name, " ".join(body))
        for section_id, title, body in found
    ]


class PolicyCorpus:
    """Every section of the policy files in a directory, by id."""

    def __init__(self, directory: Path, sections: list[PolicySection], version: str) -> None:
        self.directory = directory
        self.version = version
        self._sections: dict[str, PolicySection] = {}
        for section in sections:
            if section.id in self._sections:
                raise AssetError(
                    f"section id {section.id} appears twice "
                    f"({self._sections[section.id].source} and {section.source})"
                )
            self._sections[section.id] = section

    @classmethod
    def load(cls, directory: Path = CORPUS_DIR) -> PolicyCorpus:
        """Parse every `*.md` policy in `directory`; malformed files raise `AssetError`."""
        files = sorted(directory.glob("*.md"))
        if not files:
            raise AssetError(f"no policy files (*.md) in {directory}")
        digest = hashlib.sha256()
        sections: list[PolicySection] = []
        for path in files:
            digest.update(path.name.encode() + b"\0" + path.read_bytes())
            sections.extend(_parse(path))
        return cls(directory, sections, digest.hexdigest()[:12])

    def ids(self) -> frozenset[str]:
        """Every section id in the corpus."""
        return frozenset(self._sections)

    def section(self, section_id: str) -> PolicySection:
        """The section with this id (`KeyError` names it when it does not exist)."""
        return self._sections[section_id]

    def documents(self) -> list[str]:
        """The titles of the policies, in file order."""
        return list(dict.fromkeys(s.document for s in self._sections.values()))

    def __len__(self) -> int:
        return len(self._sections)
