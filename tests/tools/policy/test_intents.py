"""The action-request grammar: commands are recognised, questions are left to the answerer."""

from __future__ import annotations

import pytest

from state.errors import InputError
from tools.policy.actions import ACTION_NAMES, check_action
from tools.policy.intents import ActionIntent, parse_action

SHARE = ActionIntent("share_with_patient", "patient_outbox")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Finalize the radiology report.", ActionIntent("finalize_radiology_report", "thread")),
        ("please sign off the draft", ActionIntent("finalize_radiology_report", "thread")),
        ("I want to finalise the report", ActionIntent("finalize_radiology_report", "thread")),
        ("Share the report with the patient.", SHARE),
        ("Email the report to the patient", ActionIntent("share_with_patient", "email")),
        ("can you send it to the patient on WhatsApp?",
         ActionIntent("share_with_patient", "messaging")),
        ("Export this thread.", ActionIntent("export_thread", "local_file")),
        ("export the chat to my USB stick", ActionIntent("export_thread", "external")),
        ("Export this conversation to my email", ActionIntent("export_thread", "email")),
        ("Erase my learner data.", ActionIntent("erase_learner_data", "learner_store")),
        ("delete my quiz answers", ActionIntent("erase_learner_data", "learner_store")),
        ("erase the learner data for learner bob42.",
         ActionIntent("erase_learner_data", "learner_store", "bob42")),
        ("Request action: share_with_patient", SHARE),
    ],
)  # fmt: skip
def test_requests_are_recognised_with_their_destination(text: str, expected: ActionIntent) -> None:
    assert parse_action(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "Can I email a report to a patient?",
        "Is it OK to export the thread?",
        "Why was this blocked?",
        "Send the report to the GP",
        "Who may sign off an AI draft?",
        "Request action: frobnicate",
        "Draft a report for this chest x-ray",
    ],
)
def test_questions_and_other_requests_are_not_actions(text: str) -> None:
    assert parse_action(text) is None


def test_every_action_has_a_canonical_request() -> None:
    for name in ACTION_NAMES:
        intent = parse_action(f"Request action: {name}")
        assert intent is not None and intent.action == name


def test_unknown_action_names_are_an_input_error() -> None:
    assert check_action("export_thread") == "export_thread"
    with pytest.raises(InputError, match="unknown action 'frobnicate'; known actions"):
        check_action("frobnicate")
