"""Gated actions through the supervisor graph: pause, restart, approve or reject, exactly once.

Graph logic with a SCRIPTED classifier and a scripted radiology stand-in (it returns a fixed
draft); the policy agent, rules, corpus index, checkpointer (SQLite), audit (SQLite), outbox
and tutor store are real. "Restart" is a fresh graph, agent and audit on the same files (and,
for Redis, on the same Redis database).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Command

from agents.policy import PolicyAgent
from agents.registry import AgentRegistry, AgentTask
from agents.supervisor import RoutingThresholds, SupervisorRouter
from graphs.approvals import build_policy_graph, find_pending, pending_approvals, resume_command
from graphs.audit_hooks import GraphAuditor
from graphs.checkpoint_types import graph_record_types
from graphs.supervisor import build_supervisor_graph
from graphs.turns import AnswerEvent, ApprovalEvent, TurnEvent, pending_retry, stream_turn
from state.audit import AuditRecord, open_audit
from state.checkpointer import open_checkpointer
from state.errors import ApprovalError, PermissionDenied
from state.schema import AgentAnswer, PhiVault
from tests.scripted import ScriptedClassifier, ScriptedPrediction
from tests.tools.policy.policy_index import policy_retriever
from tools.guards.phi import PhiRedactor
from tools.policy.corpus import PolicyCorpus
from tools.policy.evaluator import PolicyEvaluator
from tools.policy.gated_actions import GatedActions
from tools.policy.rules import load_rules
from tools.tutor.learner import LearnerState
from tools.tutor.learner_store import open_learner_store

DRAFT = (
    "Draft report for the attached image\nFindings: small left pleural effusion in <PERSON_1>. "
    "Impression: effusion."
)
CORPUS = PolicyCorpus.load()
TEXTS = {
    "Draft a report for this film": "radiology",
    "Finalize the radiology report.": "policy",
    "Share the report with the patient.": "policy",
    "Email the report to the patient": "policy",
    "Export this thread": "policy",
    "Erase my learner data": "policy",
    "Why was this blocked?": "policy",
}


class DraftingRadiology:
    """A scripted radiology stand-in: it always answers with the same draft."""

    name = "radiology"

    def run(self, task: AgentTask) -> AgentAnswer:
        return AgentAnswer(order=task.order, agent="radiology", text=DRAFT)


@dataclass
class Session:
    """One 'process': a compiled graph over the shared files, its audit and gated actions."""

    graph: CompiledStateGraph
    audit: object
    actions: GatedActions

    def turn(self, text: str | None, *, role: str = "clinician", user: str = "dr-lee",
             resume: Command | None = None, thread: str = "t1") -> list[TurnEvent]:  # fmt: skip
        return list(
            stream_turn(
                self.graph,
                thread_id=thread,
                text=text,
                user_id=user,
                tenant_id="acme",
                auditor=GraphAuditor(self.audit),  # type: ignore[arg-type]
                user_role=role,
                resume=resume,
            )
        )


@contextmanager
def session(root: Path, checkpoint_url: str | None = None) -> Iterator[Session]:
    """Build everything from the files under `root` (or `checkpoint_url`), as a process would."""
    classifier = ScriptedClassifier({t: ScriptedPrediction(i, 0.97) for t, i in TEXTS.items()})
    router = SupervisorRouter(classifier, RoutingThresholds(0.85, 0.65, 0.03), None)
    with (
        open_audit(f"sqlite:///{root / 'audit.sqlite'}", batch=False) as audit,
        open_learner_store(f"sqlite:///{root / 'tutor.sqlite'}") as learners,
        open_checkpointer(
            checkpoint_url or f"sqlite:///{root / 'cp.sqlite'}", record_types=graph_record_types()
        ) as saver,
    ):
        auditor = GraphAuditor(audit)
        agent = PolicyAgent(None, policy_retriever(), CORPUS)
        actions = GatedActions(
            PolicyEvaluator(load_rules(corpus_ids=CORPUS.ids())),
            outbox_dir=root / "outbox",
            export_dir=root / "exports",
            redactor=PhiRedactor(),
            learners=learners,
        )
        registry = AgentRegistry()
        registry.register(DraftingRadiology())
        registry.register(agent)
        graph = build_supervisor_graph(
            router,
            registry,
            auditor,
            agent_nodes={"policy": build_policy_graph(agent, actions, auditor)},
        ).compile(checkpointer=saver)
        yield Session(graph, audit, actions)


def answers(events: list[TurnEvent]) -> list[AnswerEvent]:
    return [e for e in events if isinstance(e, AnswerEvent)]


def approvals(events: list[TurnEvent]) -> list[ApprovalEvent]:
    return [e for e in events if isinstance(e, ApprovalEvent)]


def policy_rows(audit) -> list[AuditRecord]:
    return [
        r
        for r in audit.for_thread("t1")
        if r.event_type in ("interrupt", "approval")
        or (r.event_type == "tool_call" and r.payload.get("request_id"))
    ]


def test_finalize_waits_across_a_restart_and_the_approval_signs_the_draft_once(tmp_path) -> None:
    with session(tmp_path) as first:
        first.turn("Draft a report for this film")
        events = first.turn("Finalize the radiology report.", role="trainee", user="tom")
        [paused] = approvals(events)
        request = paused.pending.request
        assert request.action == "finalize_radiology_report"
        assert request.decision.effect == "needs_approval"
        assert request.decision.approvers == ("clinician",)
        assert {c.id for c in request.citations} <= CORPUS.ids()
        assert "pleural effusion" in request.preview
        assert not answers(events) and not pending_retry(first.graph, "t1")
    with session(tmp_path) as second:
        [pending] = pending_approvals(second.graph, "t1")
        assert pending.request.request_id == request.request_id
        with pytest.raises(PermissionDenied, match="needs an approver with the role clinician"):
            resume_command([pending], approver="tom", role="trainee", decision="approve")
        command = resume_command(
            [pending], approver="dr-lee", role="clinician", decision="approve", note="agree"
        )
        [done] = answers(second.turn(None, resume=command))
        assert done.agent == "policy" and "signed by dr-lee (clinician)" in done.text
        ledger = second.graph.get_state({"configurable": {"thread_id": "t1"}}).values["policy"]
        [signoff] = ledger.signoffs
        assert signoff.signed_by == "dr-lee" and signoff.role == "clinician"
        assert ledger.records[-1].outcome == "executed" and ledger.records[-1].note == "agree"
        with pytest.raises(ApprovalError, match="nothing is waiting"):
            resume_command(
                pending_approvals(second.graph, "t1"),
                approver="dr-lee",
                role="clinician",
                decision="approve",
            )
        rows = policy_rows(second.audit)
    kinds = [(r.event_type, r.payload.get("tool")) for r in rows]
    assert kinds == [
        ("tool_call", "policy_evaluate"),
        ("interrupt", None),
        ("approval", None),
        ("tool_call", "finalize_radiology_report"),
    ]
    assert rows[2].payload["approver"] == "dr-lee" and rows[2].payload["accepted"] is True


def test_signed_report_is_shared_once_with_the_patients_name_restored(tmp_path) -> None:
    with session(tmp_path) as s:
        s.turn("Draft a report for this film")
        config = {"configurable": {"thread_id": "t1"}}
        s.graph.update_state(
            config, {"phi_vault": PhiVault(owner="dr-lee", entries={"<PERSON_1>": "John Smith"})}
        )
        for action in ("Finalize the radiology report.", "Share the report with the patient."):
            [paused] = approvals(s.turn(action))
            command = resume_command(
                [paused.pending], approver="dr-lee", role="clinician", decision="approve"
            )
            [done] = answers(s.turn(None, resume=command))
            assert done.text.startswith("Done:")
        [copy] = (tmp_path / "outbox" / "acme").iterdir()
        assert "John Smith" in copy.read_text()
        assert [r.payload["tool"] for r in policy_rows(s.audit) if r.event_type == "tool_call"][
            -1
        ] == "share_with_patient"


def test_rejection_leaves_no_side_effect_and_is_audited(tmp_path) -> None:
    with session(tmp_path) as s:
        s.turn("Draft a report for this film")
        [paused] = approvals(s.turn("Export this thread", role="clinician"))
        assert paused.pending.request.decision.approvers == ("admin",)
        command = resume_command(
            [paused.pending], approver="ada", role="admin", decision="reject", note="not needed"
        )
        [done] = answers(s.turn(None, resume=command, user="ada", role="admin"))
        assert "rejected" in done.text and "nothing was done" in done.text
        assert not (tmp_path / "exports").exists()
        ledger = s.graph.get_state({"configurable": {"thread_id": "t1"}}).values["policy"]
        assert ledger.records[-1].outcome == "rejected" and not ledger.signoffs
        rows = policy_rows(s.audit)
        assert rows[-1].event_type == "approval" and rows[-1].payload["decision"] == "reject"


def test_a_raw_resume_by_the_wrong_role_is_refused_and_the_request_keeps_waiting(tmp_path) -> None:
    with session(tmp_path) as s:
        s.turn("Draft a report for this film")
        [paused] = approvals(s.turn("Finalize the radiology report."))
        wrong = {"approver": "ada", "role": "admin", "decision": "approve"}
        again = approvals(s.turn(None, resume=Command(resume={paused.pending.interrupt_id: wrong})))
        assert "may not decide this request" in again[0].pending.request.refusal
        values = s.graph.get_state({"configurable": {"thread_id": "t1"}}).values
        assert not values["policy"].signoffs
        assert [
            r.payload["accepted"] for r in policy_rows(s.audit) if r.event_type == "approval"
        ] == [False]
        assert [p.request.request_id for p in find_pending(s.graph.checkpointer, "acme")] == [
            paused.pending.request.request_id
        ]
        assert list(find_pending(s.graph.checkpointer, "other-tenant")) == []


def test_denied_request_answers_with_citations_and_explains_why(tmp_path) -> None:
    with session(tmp_path) as s:
        s.turn("Draft a report for this film")
        [denied] = answers(s.turn("Email the report to the patient"))
        assert "I can't" in denied.text and "[POL-SHARE-2.1]" in denied.text
        [why] = answers(s.turn("Why was this blocked?"))
        assert "was denied" in why.text and "SHARE-CHANNEL-DENY" in why.text
        assert "[POL-SHARE-2.1]" in why.text
        assert not (tmp_path / "outbox").exists()


def test_erasure_needs_an_admin_and_the_audit_keeps_only_the_fact(tmp_path) -> None:
    with session(tmp_path) as s:
        s.actions.learners.save(LearnerState(tenant_id="acme", user_id="tom"))  # type: ignore[union-attr]
        [paused] = approvals(s.turn("Erase my learner data", role="trainee", user="tom"))
        command = resume_command([paused.pending], approver="ada", role="admin", decision="approve")
        [done] = answers(s.turn(None, resume=command, user="ada", role="admin"))
        assert "erased" in done.text
        assert s.actions.learners.load("acme", "tom") is None  # type: ignore[union-attr]
        [executed] = [
            r for r in policy_rows(s.audit) if r.payload.get("tool") == "erase_learner_data"
        ]
        assert executed.payload["result"] == {"learner": "tom", "events": 0, "learners": 1}


@pytest.mark.services
def test_a_waiting_approval_survives_a_restart_on_redis(tmp_path, redis_url) -> None:
    thread = f"t-{uuid.uuid4().hex[:8]}"
    with session(tmp_path, redis_url) as first:
        first.turn("Draft a report for this film", thread=thread)
        [paused] = approvals(first.turn("Finalize the radiology report.", thread=thread))
    with session(tmp_path, redis_url) as second:
        [pending] = pending_approvals(second.graph, thread)
        assert pending.request.request_id == paused.pending.request.request_id
        command = resume_command([pending], approver="dr-lee", role="clinician", decision="approve")
        [done] = answers(second.turn(None, resume=command, thread=thread))
        assert "signed by dr-lee" in done.text
        assert pending_approvals(second.graph, thread) == []
