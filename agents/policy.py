"""The policy agent: cited answers from the policy corpus, explanations of its own decisions, and
the words of gated-action outcomes.

Usage:
    agent = PolicyAgent(access, retriever, PolicyCorpus.load())
    answer = agent.run(AgentTask(intent="policy", text="Can I email a report to a patient?",
                                 order=0))
    answer.citations                       # ['POL-SHARE-2.1']

Questions reuse the documents agent over the policy collection, so retrieval, grounding, the
extractive fallback and abstention are the same as for documents; the citations name policy
section ids (`[POL-SHARE-2.1]`), not files. Explanations ("why was this blocked?") and the
replies to gated actions are composed from the thread's decision records and the corpus text
alone: no model is called for them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from agents.documents import DocumentsAgent
from agents.model_access import ModelAccess
from agents.registry import AgentTask
from agents.tool_calls import ToolCalls
from state.schema import AgentAnswer, Intent, PolicyLedger, PolicyOutcome, PolicyRecord
from tools.policy.actions import ACTIONS, check_action
from tools.policy.corpus import PolicyCorpus, section_id_of
from tools.policy.index import POLICY_COLLECTION, POLICY_TENANT
from tools.policy.schema import (
    ActionPlan,
    ActionResult,
    Approval,
    ApprovalRequest,
    CitedSection,
    PolicyDecision,
)
from tools.rag.hybrid_search import HybridRetriever

ABSTAIN_OPENING = "The policies do not say"
NO_DECISIONS = (
    "I have not made a policy decision in this thread yet, so there is nothing to explain. "
    "Ask me to do something (for example “export this thread”) or ask what a policy says."
)
MAX_QUOTES = 3
_DOCUMENTS_OPENING = "From the documents: "
_EXPLAIN = re.compile(
    r"\bwhy\b.*\b(block|den(?:y|ied)|refus|reject|stop|not allowed|paus|approv|wait|allow|need)"
    r"|\bexplain\b.*\b(decision|block|denial|rejection|approval)",
    re.IGNORECASE,
)
_NEGATIVE = re.compile(r"\b(block|den(?:y|ied)|refus|reject|stop|not allowed)", re.IGNORECASE)


def is_explanation_request(text: str) -> bool:
    """Whether the user asks why the agent decided something ("why was this blocked?")."""
    return bool(_EXPLAIN.search(text))


@dataclass(frozen=True)
class PolicyAnswer:
    """An answer to a policy question and the section ids it cites."""

    text: str
    mode: str
    citations: list[str]


class PolicyAgent:
    """Answers policy questions with section citations, explains decisions, words outcomes."""

    name: Intent = "policy"

    def __init__(
        self,
        access: ModelAccess | None,
        retriever: HybridRetriever,
        corpus: PolicyCorpus,
        *,
        k: int = 5,
        tool_calls: ToolCalls | None = None,
    ) -> None:
        self.corpus = corpus
        self._documents = DocumentsAgent(
            access, retriever, k=k, collection=POLICY_COLLECTION, tool_calls=tool_calls
        )

    # --- questions and explanations ---------------------------------------------------------

    def run(self, task: AgentTask) -> AgentAnswer:
        """Answer a policy question (a task without a thread's decision records)."""
        return self.respond(task, PolicyLedger())

    def respond(self, task: AgentTask, ledger: PolicyLedger) -> AgentAnswer:
        """Explain a decision of this thread when asked why; otherwise answer from the corpus."""
        if is_explanation_request(task.text):
            text, citations = self.explain(ledger, task.text)
        else:
            answer = self.answer(task.text)
            text, citations = answer.text, answer.citations
        return AgentAnswer(order=task.order, agent=self.name, text=text, citations=citations)

    def answer(self, question: str) -> PolicyAnswer:
        """A grounded, cited answer from the policy collection, or an abstention."""
        result = self._documents.answer(question, POLICY_TENANT)
        if result.mode == "abstained":
            nearest = list(
                dict.fromkeys(
                    sid
                    for item in result.retrieved
                    if (sid := section_id_of(item.chunk.section)) is not None
                )
            )[:MAX_QUOTES]
            looked = (
                f" The closest sections were {', '.join(nearest)}, and none of them answers it."
                if nearest
                else ""
            )
            text = (
                f"{ABSTAIN_OPENING} this. I searched the {len(self.corpus.documents())} "
                f"MedGraph policies for “{question.strip()}”.{looked}"
            )
            return PolicyAnswer(text, "abstained", [])
        text = result.text
        labels = {}
        for item in result.retrieved:
            section_id = section_id_of(item.chunk.section)
            if section_id is not None:
                labels[item.chunk.chunk_id] = section_id
                text = text.replace(item.label, f"[{section_id}]")
        if text.startswith(_DOCUMENTS_OPENING):
            text = "From the policies: " + text.removeprefix(_DOCUMENTS_OPENING)
        citations = [labels[c.chunk_id] for c in result.citations if c.chunk_id in labels]
        return PolicyAnswer(text, result.mode, list(dict.fromkeys(citations)))

    def explain(self, ledger: PolicyLedger, question: str) -> tuple[str, list[str]]:
        """Why the thread's latest (or latest refused) request went the way it did."""
        records = ledger.records
        if _NEGATIVE.search(question):
            refused = [r for r in records if r.outcome in ("denied", "rejected", "unavailable")]
            records = refused or records
        if not records:
            return NO_DECISIONS, []
        record = records[-1]
        text = (
            f"Your request {record.request_id} to {ACTIONS[check_action(record.action)].summary} "
        )
        text += _outcome_phrase(record) + ". "
        if record.outcome == "unavailable":
            return text + record.reason.capitalize() + ".", []
        text += f"Rule {', '.join(record.rule_ids)} decided it: {record.reason}."
        if record.note:
            text += f" The approver's note: “{record.note}”."
        quotes = self.quotes(record.sections)
        return f"{text} {quotes}".strip(), record.sections[:MAX_QUOTES]

    def quotes(self, sections: list[str] | tuple[str, ...]) -> str:
        """The opening sentence of each cited section, with its id."""
        return " ".join(
            f"“{self.corpus.section(s).first_sentence}” [{s}]" for s in sections[:MAX_QUOTES]
        )

    # --- gated actions ----------------------------------------------------------------------

    def approval_request(
        self, plan: ActionPlan, decision: PolicyDecision, refusal: str | None = None
    ) -> ApprovalRequest:
        """What the approver sees: the decision, the preview and the cited sections."""
        return ApprovalRequest(
            request_id=plan.request_id,
            action=plan.action,
            summary=plan.summary,
            requested_by=plan.requested_by,
            requested_role=plan.requested_role,
            decision=decision,
            preview=plan.preview,
            citations=[
                CitedSection(id=s, title=self.corpus.section(s).title) for s in decision.sections
            ],
            refusal=refusal,
        )

    def record(
        self,
        plan: ActionPlan,
        outcome: PolicyOutcome,
        approval: Approval | None = None,
        result: ActionResult | None = None,
        note: str | None = None,
    ) -> PolicyRecord:
        """The decision record kept in the thread's policy ledger (no PHI: the note is redacted)."""
        decision = plan.decision
        return PolicyRecord(
            request_id=plan.request_id,
            action=plan.action,
            requested_by=plan.requested_by,
            requested_role=plan.requested_role,
            effect=decision.effect if decision else None,
            rule_ids=list(decision.rule_ids) if decision else [],
            sections=list(decision.sections) if decision else [],
            reason=decision.reason if decision else (plan.unavailable or ""),
            outcome=outcome,
            approver=approval.approver if approval else None,
            approver_role=approval.role if approval else None,
            note=note,
            result=result.result if result else {},
        )

    def outcome_answer(
        self, task: AgentTask, record: PolicyRecord, result: ActionResult | None = None
    ) -> AgentAnswer:
        """The reply to a gated action once it is decided: done, denied, rejected or impossible."""
        summary = ACTIONS[check_action(record.action)].summary
        if record.outcome == "unavailable":
            text = f"I can't {summary}: {record.reason}."
        elif record.outcome == "denied":
            text = (
                f"I can't {summary}: {record.reason} (rule {', '.join(record.rule_ids)}). "
                f"{self.quotes(record.sections)}"
            )
        elif record.outcome == "rejected":
            text = (
                f"{record.approver} ({record.approver_role}) rejected request {record.request_id}"
                f" to {summary}, so nothing was done."
            )
            if record.note:
                text += f" Note: “{record.note}”."
        else:
            approved = (
                f" Approved by {record.approver} ({record.approver_role})."
                if record.approver
                else " No approval was needed."
            )
            cited = " ".join(f"[{s}]" for s in record.sections)
            text = f"Done: {result.summary if result else summary}.{approved} {cited}"
        citations = [] if record.outcome == "unavailable" else record.sections
        return AgentAnswer(
            order=task.order, agent=self.name, text=text.strip(), citations=citations
        )


def _outcome_phrase(record: PolicyRecord) -> str:
    if record.outcome == "denied":
        return "was denied"
    if record.outcome == "rejected":
        return f"was rejected by {record.approver} ({record.approver_role})"
    if record.outcome == "unavailable":
        return "could not be carried out"
    if record.approver:
        return f"was approved by {record.approver} ({record.approver_role}) and carried out"
    return "was allowed without approval and carried out"
