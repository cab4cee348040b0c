"""The gated actions MedGraph knows, and the vocabulary their requests are described in.

Usage:
    ACTIONS["share_with_patient"].summary    # 'write a patient-facing copy of the signed report'
    check_action("frobnicate")               # InputError naming the known actions
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

from state.errors import InputError

ActionName = Literal[
    "finalize_radiology_report", "share_with_patient", "export_thread", "erase_learner_data"
]
DataClass = Literal["phi", "deidentified", "personal"]
Destination = Literal[
    "thread", "patient_outbox", "local_file", "learner_store", "email", "messaging", "external"
]
ACTION_NAMES: tuple[ActionName, ...] = get_args(ActionName)
DESTINATIONS: tuple[Destination, ...] = get_args(Destination)


@dataclass(frozen=True)
class ActionSpec:
    """What one gated action does and where its effect lands by default."""

    name: ActionName
    summary: str
    default_destination: Destination


ACTIONS: dict[ActionName, ActionSpec] = {
    spec.name: spec
    for spec in (
        ActionSpec(
            "finalize_radiology_report",
            "sign the thread's latest radiology draft as the final report",
            "thread",
        ),
        ActionSpec(
            "share_with_patient",
            "write a patient-facing copy of the signed report to the patient outbox",
            "patient_outbox",
        ),
        ActionSpec(
            "export_thread",
            "export this thread as redacted JSON lines to a local file",
            "local_file",
        ),
        ActionSpec(
            "erase_learner_data",
            "erase a learner's tutor records (the audit keeps only the fact)",
            "learner_store",
        ),
    )
}


def check_action(name: str) -> ActionName:
    """`name` as a known action, or an `InputError` listing the known ones."""
    if name not in ACTIONS:
        raise InputError(f"unknown action {name!r}; known actions: {', '.join(ACTION_NAMES)}")
    return name  # type: ignore[return-value]
