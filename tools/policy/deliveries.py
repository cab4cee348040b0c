"""What gated actions write: the patient copy, the redacted thread export, each written once.

Usage:
    path, created = write_once(outbox / "apr-1a2b.md", patient_copy(report, signer, ...))
    lines = export_lines(messages, vault, PhiRedactor(), header={"thread": "t1"})

A file is written to a temporary name and hard-linked into place, so it appears whole or not at
all, and a second write for the same request finds it and leaves it alone (exactly once).
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Sequence
from pathlib import Path

from langchain_core.messages import AnyMessage, HumanMessage

from state.errors import StateUnavailable
from state.schema import PLACEHOLDER, PhiVault
from tools.guards.phi import PhiRedactor

AI_NOTICE = (
    "This report was drafted with the help of an AI tool, then reviewed and signed by a "
    "clinician. Please contact the department if anything in it is unclear."
)


def write_once(path: Path, text: str) -> tuple[Path, bool]:
    """Write `text` to `path` unless it exists; return the path and whether it was created."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists():
            return path, False
        fd, temp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=path.suffix)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
            os.link(temp, path)
        except FileExistsError:
            return path, False
        finally:
            os.unlink(temp)
    except OSError as exc:
        raise StateUnavailable(f"cannot write {path}: {exc.strerror or exc}") from exc
    return path, True


def withheld(text: str) -> str:
    """Placeholders replaced by a plain notice, e.g. `<PERSON_1>` → `[name withheld]`."""
    words = {"PERSON": "name", "MRN": "record number", "DATE": "date"}

    def notice(match: re.Match[str]) -> str:
        kind = match.group(1)
        return f"[{words.get(kind, kind.lower().replace('_', ' '))} withheld]"

    return PLACEHOLDER.sub(notice, text)


def patient_copy(
    report: str,
    *,
    request_id: str,
    signer: str,
    released_by: str,
    vault: PhiVault | None,
    restore: bool,
) -> str:
    """The patient-facing copy of a signed report; identifiers restored only when `restore`."""
    body = vault.restore(report) if restore and vault is not None else report
    return (
        "Chest X-ray report: patient copy\n"
        f"Reference {request_id}. Signed by {signer}; released by {released_by}.\n\n"
        f"{withheld(body).strip()}\n\n{AI_NOTICE}\n"
    )


def _role(message: AnyMessage) -> str:
    return "user" if isinstance(message, HumanMessage) else "assistant"


def export_lines(
    messages: Sequence[AnyMessage],
    vault: PhiVault | None,
    redactor: PhiRedactor,
    *,
    header: dict[str, str | int],
) -> list[str]:
    """A header line, then one JSON line per message with its text redacted (never restored).

    The redactor runs over every text with a copy of the thread's vault, so values the input
    guard already replaced keep their placeholders and anything it missed is replaced too; the
    vault itself is never exported.
    """
    scratch = (vault or PhiVault()).model_copy(deep=True)
    lines = [json.dumps({"kind": "header", **header}, ensure_ascii=False)]
    for number, message in enumerate(messages, start=1):
        text = redactor.redact(message.text, scratch).text
        record = {
            "kind": "message",
            "n": number,
            "role": _role(message),
            "agent": message.name,
            "text": text,
        }
        lines.append(json.dumps(record, ensure_ascii=False))
    return lines
