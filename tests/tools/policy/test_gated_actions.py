"""Gated actions: planning reads the thread and decides; execution writes once, redacts, erases."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from langchain_core.messages import AIMessage, HumanMessage

from state.errors import ApprovalError
from state.schema import PhiVault, PolicyLedger, ReportSignoff
from tools.guards.phi import PhiRedactor
from tools.policy.corpus import PolicyCorpus
from tools.policy.evaluator import PolicyEvaluator
from tools.policy.gated_actions import GatedActions, ThreadContext, request_id
from tools.policy.intents import parse_action
from tools.policy.rules import load_rules
from tools.policy.schema import Approval
from tools.tutor.learner import AnswerEvent, LearnerState
from tools.tutor.learner_store import open_learner_store

DRAFT = (
    "Draft report for the attached image\nFindings: small left pleural effusion in <PERSON_1>. "
    "Impression: effusion."
)
CLINICIAN = Approval(approver="dr-lee", role="clinician", decision="approve", note="checked")
ADMIN = Approval(approver="ada", role="admin", decision="approve")


def thread(*, signed: bool = False, vault: PhiVault | None = None, role: str = "clinician",
           messages: list | None = None) -> ThreadContext:  # fmt: skip
    messages = messages or [
        HumanMessage("Draft a report for <PERSON_1>", id="h1"),
        AIMessage(DRAFT, name="radiology", id="draft-1"),
        HumanMessage("Finalize the radiology report.", id="h2"),
    ]
    ledger = PolicyLedger()
    if signed:
        ledger.signoffs.append(
            ReportSignoff(
                request_id="apr-0",
                message_id="draft-1",
                draft_sha256="0" * 64,
                signed_by="dr-lee",
                role="clinician",
                signed_at=datetime(2025, 1, 1, tzinfo=UTC),
            )
        )
    return ThreadContext("t1", "acme", "u1", role, messages, vault, ledger)  # type: ignore[arg-type]


@pytest.fixture
def actions(tmp_path):
    corpus = PolicyCorpus.load()
    store = open_learner_store(f"sqlite:///{tmp_path / 'tutor.sqlite'}")
    yield GatedActions(
        PolicyEvaluator(load_rules(corpus_ids=corpus.ids())),
        outbox_dir=tmp_path / "outbox",
        export_dir=tmp_path / "exports",
        redactor=PhiRedactor(),
        learners=store,
    )
    store.close()


def plan(actions: GatedActions, text: str, context: ThreadContext):
    intent = parse_action(text)
    assert intent is not None, text
    return actions.plan(intent, context)


def test_request_ids_are_stable_for_a_turn_and_differ_between_actions() -> None:
    context = thread()
    assert request_id(context, "export_thread") == request_id(thread(), "export_thread")
    assert request_id(context, "export_thread") != request_id(context, "share_with_patient")


def test_finalize_plans_an_approval_and_signs_the_exact_draft(actions) -> None:
    context = thread()
    finalize = plan(actions, "Finalize the radiology report.", context)
    assert finalize.decision.effect == "needs_approval"
    assert finalize.request.data_class == "phi" and finalize.request.attributes == {
        "report_signed": False
    }
    assert "pleural effusion" in finalize.preview
    result = actions.execute(finalize, context, CLINICIAN)
    assert result.signoff.message_id == "draft-1" and result.signoff.signed_by == "dr-lee"
    changed = thread(messages=[AIMessage("Draft report: other", name="radiology", id="draft-1")])
    with pytest.raises(ApprovalError, match="changed after it was requested"):
        actions.execute(finalize, changed, CLINICIAN)


def test_actions_without_their_object_are_unavailable_not_evaluated(actions) -> None:
    no_draft = AIMessage("Please attach a chest X-ray with /image PATH.", name="radiology", id="r")
    empty = thread(messages=[no_draft, HumanMessage("Finalize the report", id="h1")])
    finalize = plan(actions, "Finalize the report", empty)
    assert finalize.unavailable and finalize.decision is None
    share = plan(actions, "Share the report with the patient", empty)
    assert "no radiology report" in share.unavailable


def test_patient_copy_restores_identifiers_only_when_allowed_and_is_written_once(
    actions, tmp_path
) -> None:
    vault = PhiVault(owner="u1", entries={"<PERSON_1>": "John Smith"})
    context = thread(signed=True, vault=vault)
    share = plan(actions, "Share the report with the patient.", context)
    assert share.decision.effect == "needs_approval" and share.decision.restore_phi
    assert "John Smith" not in share.preview
    first = actions.execute(share, context, CLINICIAN)
    second = actions.execute(share, context, CLINICIAN)
    copies = list((tmp_path / "outbox" / "acme").iterdir())
    assert [p.name for p in copies] == [f"{share.request_id}.md"]
    assert (first.result["created"], second.result["created"]) == (1, 0)
    text = copies[0].read_text()
    assert "John Smith" in text and "released by dr-lee" in text and "AI tool" in text
    actions.restore_phi = False
    withheld = share.model_copy(update={"target": {**share.target, "path": str(tmp_path / "w.md")}})
    actions.execute(withheld, context, CLINICIAN)
    assert "[name withheld]" in (tmp_path / "w.md").read_text()


def test_email_and_unsigned_shares_are_denied(actions) -> None:
    assert plan(
        actions, "Email the report to the patient", thread(signed=True)
    ).decision.rule_ids == ("SHARE-CHANNEL-DENY",)
    unsigned = plan(actions, "Share the report with the patient", thread())
    assert (
        unsigned.decision.effect == "deny" and "SHARE-UNSIGNED-DENY" in unsigned.decision.rule_ids
    )


def test_export_is_redacted_never_restored_and_phi_threads_need_an_admin(actions, tmp_path) -> None:
    vault = PhiVault(owner="u1", entries={"<PERSON_1>": "John Smith"})
    messages = [
        HumanMessage("Summarise the case of <PERSON_1>", id="h1"),
        AIMessage("Call Mary Jones on 555-201-3344 about it.", name="general", id="a1"),
        HumanMessage("Export this thread", id="h2"),
    ]
    context = thread(vault=vault, messages=messages)
    export = plan(actions, "Export this thread", context)
    assert export.decision.effect == "needs_approval" and export.decision.approvers == ("admin",)
    actions.execute(export, context, ADMIN)
    lines = [json.loads(x) for x in (tmp_path / "exports" / "acme").glob("*.jsonl").__next__()
             .read_text().splitlines()]  # fmt: skip
    assert lines[0]["kind"] == "header" and lines[0]["messages"] == 3
    dumped = json.dumps(lines)
    assert "John Smith" not in dumped and "555-201-3344" not in dumped
    assert "<PERSON_1>" in dumped and "<PHONE_1>" in dumped


def test_export_of_a_thread_without_phi_is_allowed_outright(actions) -> None:
    messages = [
        HumanMessage("What is a silhouette sign?", id="h1"),
        HumanMessage("Export this thread", id="h2"),
    ]
    export = plan(actions, "Export this thread", thread(messages=messages))
    assert export.request.data_class == "deidentified" and export.decision.effect == "allow"


def test_erasure_removes_the_learners_rows_and_reports_only_counts(actions) -> None:
    store = actions.learners
    for user in ("u1", "bob"):
        state = LearnerState(tenant_id="acme", user_id=user)
        for n in range(3):
            event = AnswerEvent(
                tenant_id="acme", user_id=user, ts=f"2025-01-0{n + 1}T00:00:00Z",
                question_id=f"q{n}", concepts=["silhouette_sign"], purpose="practice",
                attempt=1, correct=True, counted=True, score=1.0, method="mcq",
                mastery={"silhouette_sign": 0.5},
            )  # fmt: skip
            store.record(state, event)
    mine = plan(actions, "Erase my learner data", thread(role="trainee"))
    assert mine.decision.effect == "needs_approval" and mine.target == {
        "learner": "u1",
        "answers": "3",
    }
    result = actions.execute(mine, thread(role="trainee"), ADMIN)
    assert result.result == {"learner": "u1", "events": 3, "learners": 1}
    assert store.events("acme", "u1") == [] and len(store.events("acme", "bob")) == 3
    other = plan(actions, "erase the learner data for learner bob", thread(role="clinician"))
    assert other.decision.rule_ids == ("ERASE-OTHER-DENY",)


def test_erasure_without_a_learner_store_is_unavailable(actions) -> None:
    actions.learners = None
    assert "no learner store" in plan(actions, "Erase my learner data", thread()).unavailable
