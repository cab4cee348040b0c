"""Recognise a request for a gated action in a user's message: a small grammar, no model.

Usage:
    parse_action("Share the report with the patient.")     # share_with_patient → patient_outbox
    parse_action("Email the report to the patient")        # share_with_patient → email (denied)
    parse_action("Can I email a report to a patient?")     # None: a question, not a request
    parse_action("Request action: export_thread")          # the canonical form `/action` sends

A message is a request when it opens like a command ("share …", "please export …", "can you
finalise …", "I want to erase …"); questions about what is allowed ("can I …", "is it OK to …")
are left to the policy answerer. Each action has fixed verbs and objects, and words in the
message pick the destination (email, messaging, an external service, or the default).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tools.policy.actions import ACTIONS, ActionName, Destination

CANONICAL = re.compile(r"^\s*request action:\s*([a-z_]+)\s*\.?\s*$", re.IGNORECASE)
_OPENING = re.compile(
    r"^\s*(?:(?:ok|okay|now|then|and),?\s+)?(?:please\s+)?"
    r"(?:(?:can|could|would|will)\s+you\s+(?:please\s+)?|i\s+(?:want|need|would\s+like)\s+to\s+|"
    r"i'd\s+like\s+to\s+|let's\s+|go\s+ahead\s+and\s+)?"
    r"(?P<verb>[a-z-]+(?:\s+off)?)\b",
    re.IGNORECASE,
)
_VERBS: dict[ActionName, frozenset[str]] = {
    "finalize_radiology_report": frozenset(
        {"finalize", "finalise", "sign", "sign off", "sign-off", "countersign"}
    ),
    "share_with_patient": frozenset(
        {"share", "send", "email", "e-mail", "give", "release", "forward", "text", "message"}
    ),
    "export_thread": frozenset({"export", "download", "dump", "save"}),
    "erase_learner_data": frozenset({"erase", "delete", "remove", "wipe", "forget", "purge"}),
}
_OBJECTS: dict[ActionName, re.Pattern[str]] = {
    "finalize_radiology_report": re.compile(r"\b(report|draft|read)\b", re.IGNORECASE),
    "share_with_patient": re.compile(r"\bpatients?\b", re.IGNORECASE),
    "export_thread": re.compile(
        r"\b(thread|conversation|chat|history|transcript)\b", re.IGNORECASE
    ),
    "erase_learner_data": re.compile(
        r"\b(learner|tutor|quiz|learning|mastery)\b.*\b(data|records?|progress|history|answers)\b"
        r"|\b(learner|learning|tutor|quiz)\s+(data|records?|progress)\b",
        re.IGNORECASE,
    ),
}
_DESTINATIONS: tuple[tuple[Destination, re.Pattern[str]], ...] = (
    ("email", re.compile(r"\b(e-?mail|mail|inbox)\b", re.IGNORECASE)),
    ("messaging", re.compile(r"\b(whatsapp|sms|text|messag\w*|signal|telegram)\b", re.I)),
    (
        "external",
        re.compile(
            r"\b(usb|memory stick|dropbox|google drive|onedrive|cloud|s3|upload|website|"
            r"social media|external|third[- ]party)\b",
            re.IGNORECASE,
        ),
    ),
)
_LEARNER = re.compile(r"\b(?:for|of)\s+(?:the\s+)?(?:learner|user|student|trainee)\s+(\S+)", re.I)


@dataclass(frozen=True)
class ActionIntent:
    """A recognised request: which action, where its effect goes, and whose records (erasure)."""

    action: ActionName
    destination: Destination
    learner: str | None = None


def _destination(action: ActionName, text: str) -> Destination:
    """The destination the wording asks for, else the action's default."""
    if action in ("share_with_patient", "export_thread"):
        for destination, pattern in _DESTINATIONS:
            if pattern.search(text):
                return destination
    return ACTIONS[action].default_destination


def parse_action(text: str) -> ActionIntent | None:
    """The gated action `text` requests, or None when it requests none."""
    canonical = CANONICAL.match(text)
    if canonical:
        name = canonical.group(1).lower()
        if name not in ACTIONS:
            return None
        action: ActionName = name  # type: ignore[assignment]
        return ActionIntent(action, ACTIONS[action].default_destination)
    opening = _OPENING.match(text)
    if opening is None:
        return None
    verb = opening.group("verb").lower()
    rest = text[opening.end() :]
    for action, verbs in _VERBS.items():
        if verb in verbs and _OBJECTS[action].search(rest):
            destination = _destination(action, f"{verb} {rest}")
            learner = _LEARNER.search(rest) if action == "erase_learner_data" else None
            return ActionIntent(
                action, destination, learner.group(1).rstrip(".,;!?") if learner else None
            )
    return None
