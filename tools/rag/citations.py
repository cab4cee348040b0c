"""Citation labels for chunks, like `[guide.pdf p.3 §2.1 Heart size]`."""

from __future__ import annotations

import re
from pathlib import PurePosixPath

_NUMBERED = re.compile(r"^(\d+(?:\.\d+)*)\.?\s")
MAX_SECTION_CHARS = 40


def section_label(section: tuple[str, ...]) -> str:
    """The innermost heading, shortened; a numbered heading keeps its number first."""
    if not section:
        return ""
    heading = section[-1]
    if len(heading) > MAX_SECTION_CHARS:
        heading = heading[: MAX_SECTION_CHARS - 1].rstrip() + "…"
    match = _NUMBERED.match(heading)
    return f"§{match.group(1)} {heading[match.end() :]}" if match else f"§{heading}"


def citation_label(source: str, page: int | None, section: tuple[str, ...]) -> str:
    """`[file p.N §section]`, leaving out the parts a document does not have."""
    parts = [PurePosixPath(source).name]
    if page is not None:
        parts.append(f"p.{page}")
    label = section_label(section)
    if label:
        parts.append(label)
    return "[" + " ".join(parts) + "]"
