"""The policy agent: answers cite real section ids, abstains when the corpus is silent, explains
its decisions from the thread's ledger, and words gated-action outcomes.

Retrieval is real (MiniLM + Milvus Lite over the shipped corpus). Tests with `scripted_access`
replay a scripted composer (ScriptedChatModel) to check citation relabelling only.
"""

from __future__ import annotations

import re

import pytest

from agents.policy import ABSTAIN_OPENING, NO_DECISIONS, PolicyAgent, is_explanation_request
from agents.registry import AgentTask
from state.schema import PolicyLedger, PolicyRecord
from tests.scripted import scripted_access
from tests.tools.policy.policy_index import policy_retriever
from tools.policy.corpus import PolicyCorpus
from tools.policy.index import POLICY_COLLECTION, POLICY_TENANT
from tools.policy.schema import ActionPlan, PolicyDecision
from tools.rag.hybrid_search import SearchFilters

CORPUS = PolicyCorpus.load()
CITATION = re.compile(r"\[(POL-[A-Z]+(?:-\d+(?:\.\d+)*)?)\]")


@pytest.fixture(scope="module")
def agent() -> PolicyAgent:
    return PolicyAgent(None, policy_retriever(), CORPUS)


def task(text: str) -> AgentTask:
    return AgentTask(intent="policy", text=text, order=0)


def test_email_question_is_answered_from_the_sharing_policy_with_its_section_id(agent) -> None:
    answer = agent.run(task("Can I email a report to a patient?"))
    assert answer.agent == "policy"
    assert "POL-SHARE-2.1" in answer.citations
    assert "[POL-SHARE-2.1]" in answer.text and "never be emailed" in answer.text
    assert answer.text.startswith("From the policies:")


@pytest.mark.parametrize(
    ("question", "section"),
    [
        ("Who must sign off an AI-drafted radiology report?", "POL-AIUSE-3.1"),
        ("How long do you keep conversation threads?", "POL-RET-2.1"),
        ("May I keep screenshots of patient images on my personal phone?", "POL-PHI-2.3"),
        ("Is ethics approval needed to evaluate the model on our patient data?", "POL-RES-2.1"),
    ],
)
def test_answers_cite_the_section_that_holds_the_answer(agent, question, section) -> None:
    answer = agent.run(task(question))
    assert section in answer.citations, answer.text
    cited = CITATION.findall(answer.text)
    assert cited and set(cited) <= CORPUS.ids()


def test_abstains_when_the_corpus_is_silent(agent) -> None:
    answer = agent.run(task("What is the visitor parking policy at the hospital?"))
    assert answer.text.startswith(ABSTAIN_OPENING) and answer.citations == []
    assert "8 MedGraph policies" in answer.text


def test_generated_answers_are_relabelled_with_section_ids(agent) -> None:
    question = "Can I email a report to a patient?"
    retrieval = policy_retriever().search(
        question, POLICY_TENANT, k=5, filters=SearchFilters(collection=POLICY_COLLECTION)
    )
    n = next(
        i
        for i, c in enumerate(retrieval.chunks, start=1)
        if c.chunk.section[-1].startswith("POL-SHARE-2.1")
    )
    reply = f"Reports must never be emailed to a patient [{n}]."
    scripted = PolicyAgent(scripted_access([reply]), policy_retriever(), CORPUS)
    result = scripted.answer(question)
    assert result.mode == "generated"
    assert result.text == "Reports must never be emailed to a patient. [POL-SHARE-2.1]"
    assert result.citations == ["POL-SHARE-2.1"]


def record(**overrides) -> PolicyRecord:
    values = dict(
        request_id="apr-1",
        action="share_with_patient",
        requested_by="tom",
        requested_role="trainee",
        effect="deny",
        rule_ids=["SHARE-TRAINEE-DENY"],
        sections=["POL-SHARE-2.5", "POL-ACCESS-3.2"],
        reason="trainees may not share reports with patients",
        outcome="denied",
    )
    return PolicyRecord(**{**values, **overrides})


def test_explains_the_latest_refused_decision_with_its_rule_and_quoted_sections(agent) -> None:
    executed = record(request_id="apr-2", action="export_thread", outcome="executed",
                      effect="allow", rule_ids=["EXPORT-DEID-ALLOW"], sections=["POL-SHARE-3.1"],
                      reason="a conversation without PHI may be exported")  # fmt: skip
    ledger = PolicyLedger(records=[record(), executed])
    blocked = agent.respond(task("Why was this blocked?"), ledger)
    assert "apr-1" in blocked.text and "was denied" in blocked.text
    assert "SHARE-TRAINEE-DENY" in blocked.text
    assert "[POL-SHARE-2.5]" in blocked.text and "Trainees may not share" in blocked.text
    assert blocked.citations == ["POL-SHARE-2.5", "POL-ACCESS-3.2"]
    latest = agent.respond(task("Why was that allowed?"), ledger)
    assert "apr-2" in latest.text and "allowed without approval" in latest.text


def test_explaining_without_decisions_says_so(agent) -> None:
    answer = agent.respond(task("why was my request denied?"), PolicyLedger())
    assert answer.text == NO_DECISIONS and answer.citations == []


def test_explanation_requests_are_told_apart_from_policy_questions() -> None:
    assert is_explanation_request("Why was this blocked?")
    assert is_explanation_request("why does that need approval")
    assert is_explanation_request("Explain the decision you made")
    assert not is_explanation_request("Can I email a report to a patient?")
    assert not is_explanation_request("Why do we keep audit logs for eight years?")


def test_outcome_replies_and_the_approval_request_cite_real_sections(agent) -> None:
    denied = agent.outcome_answer(task("Share it"), record())
    assert denied.text.startswith("I can't write a patient-facing copy")
    assert set(CITATION.findall(denied.text)) <= CORPUS.ids()
    rejected = agent.outcome_answer(
        task("x"),
        record(outcome="rejected", approver="dr-lee", approver_role="clinician", note="not yet"),
    )
    assert "rejected request apr-1" in rejected.text and "nothing was done" in rejected.text
    decision = PolicyDecision(
        effect="needs_approval",
        rule_ids=("EXPORT-PHI-APPROVAL",),
        sections=("POL-SHARE-3.2", "POL-PHI-4.2"),
        reason="exporting a conversation that contained PHI needs an administrator's approval",
        approvers=("admin",),
    )
    plan = ActionPlan(
        request_id="apr-3",
        action="export_thread",
        requested_by="dr-lee",
        requested_role="clinician",
        decision=decision,
        summary="export 3 messages",
        preview="human: hello",
    )
    request = agent.approval_request(plan, decision)
    assert [(c.id, c.title) for c in request.citations] == [
        ("POL-SHARE-3.2", "Exports of conversations with PHI"),
        ("POL-PHI-4.2", "Redaction on export"),
    ]
    assert request.model_dump(mode="json")["decision"]["approvers"] == ["admin"]
