"""Plan and carry out gated actions: gather the request's facts, evaluate it, preview, execute.

Usage:
    actions = GatedActions(evaluator, outbox_dir=out, export_dir=exp, redactor=PhiRedactor())
    plan = actions.plan(parse_action("Export this thread"), context)
    plan.decision.effect                    # 'needs_approval' when the thread held PHI
    result = actions.execute(plan, context, Approval(approver="ada", role="admin",
                                                    decision="approve"))

Planning reads only the thread (its messages, PHI vault and policy ledger) and the learner
store, and never changes anything. Execution is idempotent per request id: files are written
once, a sign-off is keyed by the request, and an erasure that already happened erases nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from langchain_core.messages import AIMessage, AnyMessage, HumanMessage

from state.errors import ApprovalError
from state.schema import PLACEHOLDER, PhiVault, PolicyLedger, ReportSignoff, Role
from tools.guards.phi import PhiRedactor
from tools.policy.actions import ACTIONS, DataClass
from tools.policy.deliveries import export_lines, patient_copy, write_once
from tools.policy.evaluator import PolicyEvaluator
from tools.policy.intents import ActionIntent
from tools.policy.schema import ActionPlan, ActionRequest, ActionResult, Approval

RADIOLOGY_AGENT = "radiology"
DRAFT_MARKER = "Draft report"
PREVIEW_CHARS = 600


class ErasedRows(Protocol):
    """How many rows an erasure removed (the tutor store's `ErasedCounts`)."""

    @property
    def learners(self) -> int: ...

    @property
    def events(self) -> int: ...


class LearnerRecords(Protocol):
    """What erasure needs from the tutor's learner store (`tools.tutor.learner_store`)."""

    def events(self, tenant_id: str | None = None, user_id: str | None = None) -> Sequence[object]:
        """One learner's answer events."""
        ...

    def erase_learner(self, user_id: str, tenant_id: str | None = None) -> ErasedRows:
        """Delete the learner's state and answer events in the tenant."""
        ...


@dataclass(frozen=True)
class ThreadContext:
    """The thread an action is requested in, and who requests it."""

    thread_id: str
    tenant_id: str
    user_id: str
    role: Role
    messages: Sequence[AnyMessage]
    vault: PhiVault | None
    ledger: PolicyLedger


@dataclass(frozen=True)
class _Facts:
    """What planning found out about a request before the rules see it."""

    data_class: DataClass
    attributes: dict[str, bool | int | str]
    summary: str
    preview: str
    target: dict[str, str]


def request_id(context: ThreadContext, action: str) -> str:
    """A stable id for one request: the same on every replay of the turn that made it."""
    human = next((m for m in reversed(context.messages) if isinstance(m, HumanMessage)), None)
    key = "\x1f".join([context.thread_id, str(human.id if human else ""), action])
    return "apr-" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:10]


def latest_draft(messages: Sequence[AnyMessage]) -> AIMessage | None:
    """The thread's newest radiology answer that holds a draft report.

    The radiology agent titles every draft `Draft report for …`; its other replies (attach an
    image, an unreadable file, no model) and the not-installed reply hold no draft.
    """
    for message in reversed(messages):
        if (
            isinstance(message, AIMessage)
            and message.name == RADIOLOGY_AGENT
            and DRAFT_MARKER in message.text
        ):
            return message
    return None


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _clip(text: str) -> str:
    return text if len(text) <= PREVIEW_CHARS else text[: PREVIEW_CHARS - 1].rstrip() + "…"


class GatedActions:
    """Plans and executes the four gated actions against one rule set and one place on disk."""

    def __init__(
        self,
        evaluator: PolicyEvaluator,
        *,
        outbox_dir: Path,
        export_dir: Path,
        redactor: PhiRedactor,
        learners: LearnerRecords | None = None,
        restore_phi: bool = True,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.evaluator = evaluator
        self.outbox_dir = outbox_dir
        self.export_dir = export_dir
        self.redactor = redactor
        self.learners = learners
        self.restore_phi = restore_phi
        self.clock = clock

    # --- planning ---------------------------------------------------------------------------

    def plan(self, intent: ActionIntent, context: ThreadContext) -> ActionPlan:
        """The request, its decision and a preview; nothing is changed."""
        base = {
            "request_id": request_id(context, intent.action),
            "action": intent.action,
            "requested_by": context.user_id,
            "requested_role": context.role,
        }
        planners = {
            "finalize_radiology_report": self._plan_finalize,
            "share_with_patient": self._plan_share,
            "export_thread": self._plan_export,
            "erase_learner_data": self._plan_erase,
        }
        facts = planners[intent.action](intent, context, base["request_id"])
        if isinstance(facts, str):
            return ActionPlan(**base, summary=ACTIONS[intent.action].summary, unavailable=facts)
        request = ActionRequest(
            action=intent.action,
            role=context.role,
            data_class=facts.data_class,
            destination=intent.destination,
            attributes=facts.attributes,
        )
        return ActionPlan(
            **base,
            request=request,
            decision=self.evaluator.evaluate(request),
            summary=facts.summary,
            preview=_clip(facts.preview),
            target=facts.target,
        )

    def _data_class(self, texts: Sequence[str]) -> DataClass:
        """`phi` when any text holds a placeholder or an identifier the redactor finds."""
        if any(PLACEHOLDER.search(t) or self.redactor.find(t) for t in texts):
            return "phi"
        return "deidentified"

    def _plan_finalize(
        self, intent: ActionIntent, context: ThreadContext, rid: str
    ) -> _Facts | str:
        draft = latest_draft(context.messages)
        if draft is None or draft.id is None:
            return "there is no radiology draft in this thread to finalise"
        signed = context.ledger.signoff_for(draft.id) is not None
        return _Facts(
            self._data_class([draft.text]),
            {"report_signed": signed},
            f"sign the latest radiology draft ({len(draft.text)} characters) as the final report",
            draft.text,
            {"message_id": draft.id, "draft_sha256": _digest(draft.text)},
        )

    def _plan_share(self, intent: ActionIntent, context: ThreadContext, rid: str) -> _Facts | str:
        draft = latest_draft(context.messages)
        if draft is None or draft.id is None:
            return "there is no radiology report in this thread to share"
        signoff = context.ledger.signoff_for(draft.id)
        path = self.outbox_dir / context.tenant_id / f"{rid}.md"
        preview = patient_copy(
            draft.text,
            request_id=rid,
            signer=signoff.signed_by if signoff else "(unsigned)",
            released_by="(the approver)",
            vault=None,
            restore=False,
        )
        return _Facts(
            self._data_class([draft.text]),
            {"report_signed": signoff is not None},
            f"write a patient copy of the latest report to {path}",
            preview,
            {"message_id": draft.id, "draft_sha256": _digest(draft.text), "path": str(path)},
        )

    def _plan_export(self, intent: ActionIntent, context: ThreadContext, rid: str) -> _Facts | str:
        if not context.messages:
            return "this thread has no messages to export"
        path = self.export_dir / context.tenant_id / f"{rid}.jsonl"
        texts = [m.text for m in context.messages]
        has_vault = context.vault is not None and bool(context.vault.entries)
        data_class: DataClass = "phi" if has_vault else self._data_class(texts)
        return _Facts(
            data_class,
            {},
            f"export {len(texts)} messages of thread {context.thread_id}, redacted, to {path}",
            "\n".join(f"{m.type}: {m.text}" for m in context.messages[-4:]),
            {"path": str(path), "messages": str(len(texts))},
        )

    def _plan_erase(self, intent: ActionIntent, context: ThreadContext, rid: str) -> _Facts | str:
        if self.learners is None:
            return "no learner store is installed in this build, so there is nothing to erase"
        learner = intent.learner or context.user_id
        count = len(self.learners.events(context.tenant_id, learner))
        subject = "self" if learner == context.user_id else "other"
        return _Facts(
            "personal",
            {"subject": subject},
            f"erase the tutor records of learner {learner} ({count} answers)",
            f"Learner {learner}: {count} recorded answers, plus mastery estimates and progress.",
            {"learner": learner, "answers": str(count)},
        )

    # --- execution --------------------------------------------------------------------------

    def execute(
        self, plan: ActionPlan, context: ThreadContext, approval: Approval | None
    ) -> ActionResult:
        """Carry out a permitted plan (approved, or allowed outright); idempotent per request."""
        actor = approval.approver if approval else context.user_id
        role = approval.role if approval else context.role
        if plan.action == "finalize_radiology_report":
            return self._finalize(plan, context, actor, role)
        if plan.action == "share_with_patient":
            return self._share(plan, context, actor)
        if plan.action == "export_thread":
            return self._export(plan, context, actor)
        return self._erase(plan, context)

    def _draft(self, plan: ActionPlan, context: ThreadContext) -> AIMessage:
        draft = next((m for m in context.messages if m.id == plan.target["message_id"]), None)
        if not isinstance(draft, AIMessage) or _digest(draft.text) != plan.target["draft_sha256"]:
            raise ApprovalError(
                f"the radiology draft of {plan.request_id} changed after it was requested; "
                "request the action again"
            )
        return draft

    def _finalize(
        self, plan: ActionPlan, context: ThreadContext, actor: str, role: Role
    ) -> ActionResult:
        draft = self._draft(plan, context)
        signoff = ReportSignoff(
            request_id=plan.request_id,
            message_id=str(draft.id),
            draft_sha256=plan.target["draft_sha256"],
            signed_by=actor,
            role=role,
            signed_at=self.clock(),
        )
        return ActionResult(
            summary=f"the radiology draft is signed by {actor} ({role}) as the final report",
            result={"message_id": signoff.message_id, "draft_sha256": signoff.draft_sha256},
            signoff=signoff,
        )

    def _share(self, plan: ActionPlan, context: ThreadContext, actor: str) -> ActionResult:
        draft = self._draft(plan, context)
        signoff = context.ledger.signoff_for(str(draft.id))
        restore = bool(plan.decision and plan.decision.restore_phi and self.restore_phi)
        text = patient_copy(
            draft.text,
            request_id=plan.request_id,
            signer=signoff.signed_by if signoff else "(unsigned)",
            released_by=actor,
            vault=context.vault,
            restore=restore,
        )
        path, created = write_once(Path(plan.target["path"]), text)
        return ActionResult(
            summary=f"a patient copy of the signed report is in the patient outbox at {path}",
            result={"path": str(path), "created": int(created), "identifiers_restored": restore},
        )

    def _export(self, plan: ActionPlan, context: ThreadContext, actor: str) -> ActionResult:
        header: dict[str, str | int] = {
            "thread": context.thread_id,
            "request_id": plan.request_id,
            "exported_by": actor,
            "exported_at": self.clock().isoformat(timespec="seconds"),
            "messages": len(context.messages),
            "redaction": "placeholders; values are never exported",
        }
        lines = export_lines(context.messages, context.vault, self.redactor, header=header)
        path, created = write_once(Path(plan.target["path"]), "\n".join(lines) + "\n")
        return ActionResult(
            summary=f"{len(context.messages)} redacted messages were exported to {path}",
            result={"path": str(path), "created": int(created), "lines": len(lines)},
        )

    def _erase(self, plan: ActionPlan, context: ThreadContext) -> ActionResult:
        if self.learners is None:
            raise ApprovalError(
                f"{plan.request_id} cannot be carried out: no learner store is installed now"
            )
        learner = plan.target["learner"]
        erased = self.learners.erase_learner(learner, context.tenant_id)
        return ActionResult(
            summary=(
                f"the tutor records of learner {learner} were erased ({erased.events} answers, "
                f"{erased.learners} learner state)"
            ),
            result={"learner": learner, "events": erased.events, "learners": erased.learners},
        )
