"""The typed state of the supervisor graph and the records agents write into it."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Literal

from langchain_core.messages import AnyMessage
from langgraph.graph.message import add_messages
from pydantic import BaseModel, Field
from typing_extensions import TypedDict

from state.roles import Role

Intent = Literal["radiology", "documents", "tutor", "policy", "general", "escalate"]
INTENTS: tuple[Intent, ...] = ("radiology", "documents", "tutor", "policy", "general", "escalate")
SPECIALIST_INTENTS: tuple[Intent, ...] = ("radiology", "documents", "tutor", "policy")

PLACEHOLDER = re.compile(r"<([A-Z_]+)_(\d+)>")

RouteMethod = Literal[
    "embedding", "llm", "clarify", "safety", "fallback", "continuation", "documents_match"
]


class RouteTask(BaseModel):
    """One piece of work for one agent: the intent and the text it should handle."""

    intent: Intent
    text: str
    confidence: float = Field(ge=0.0, le=1.0)


class RoutePlan(BaseModel):
    """The supervisor's decision for a turn: which agents run, how it decided, how sure it was."""

    tasks: list[RouteTask] = Field(default_factory=list)
    method: RouteMethod
    confidence: float = Field(ge=0.0, le=1.0)
    scores: dict[str, float] = Field(default_factory=dict)
    clarify_question: str | None = None


class AgentAnswer(BaseModel):
    """What one agent produced for one task; answers are merged in task order."""

    order: int = Field(ge=0, description="position of the task in the route plan")
    agent: str
    text: str
    needs_human: bool = False
    citations: list[str] = Field(default_factory=list)


class PhiVault(BaseModel):
    """Placeholder ↔ value mapping of one thread's redacted PHI; never put in a model's context.

    `owner` is the user whose messages filled it: only that user may see values restored.
    """

    owner: str = ""
    entries: dict[str, str] = Field(default_factory=dict)
    counters: dict[str, int] = Field(default_factory=dict)

    @staticmethod
    def _key(value: str) -> str:
        return " ".join(value.split()).casefold()

    def placeholder_for(self, kind: str, value: str) -> str:
        """The thread's placeholder for `value`, creating `<KIND_N>` the first time it is seen."""
        key = self._key(value)
        for placeholder, known in self.entries.items():
            if placeholder.startswith(f"<{kind}_") and self._key(known) == key:
                return placeholder
        self.counters[kind] = self.counters.get(kind, 0) + 1
        placeholder = f"<{kind}_{self.counters[kind]}>"
        self.entries[placeholder] = value
        return placeholder

    def restore(self, text: str) -> str:
        """Put the values back in place of this vault's placeholders."""
        return PLACEHOLDER.sub(lambda m: self.entries.get(m.group(0), m.group(0)), text)


class GuardOutcome(BaseModel):
    """What the input guard decided for the current turn (no message text, no PHI)."""

    action: Literal["pass", "block", "escalate"]
    stopped_by: str | None = None
    reason: str | None = None


def merge_answers(left: list[AgentAnswer], right: list[AgentAnswer] | None) -> list[AgentAnswer]:
    """Reducer for fan-out: collect answers from parallel agents; `None` clears the list."""
    if right is None:
        return []
    return [*left, *right]


AttachmentKind = Literal["image", "file"]


class Attachment(BaseModel):
    """A file the user attached to the current turn (an image for radiology, a document)."""

    kind: AttachmentKind
    path: str = Field(description="where the file is stored on this machine")
    name: str = Field(description="the file name the user gave")
    sha256: str = Field(min_length=64, max_length=64)
    size_bytes: int = Field(ge=0)


Effect = Literal["allow", "deny", "needs_approval"]
PolicyOutcome = Literal["denied", "executed", "rejected", "unavailable"]


class ReportSignoff(BaseModel):
    """A radiology draft (an AI message of the thread) signed by the clinician who approved it."""

    request_id: str
    message_id: str
    draft_sha256: str = Field(min_length=64, max_length=64)
    signed_by: str
    role: Role
    signed_at: datetime


class PolicyRecord(BaseModel):
    """One gated-action request of a thread: the policy decision and how it ended (no PHI)."""

    request_id: str
    action: str
    requested_by: str
    requested_role: Role
    effect: Effect | None = Field(default=None, description="None when it could not be evaluated")
    rule_ids: list[str] = Field(default_factory=list)
    sections: list[str] = Field(default_factory=list)
    reason: str
    outcome: PolicyOutcome
    approver: str | None = None
    approver_role: Role | None = None
    note: str | None = Field(default=None, description="the approver's note, redacted")
    result: dict[str, str | int] = Field(default_factory=dict)


class PolicyLedger(BaseModel):
    """A thread's policy records and report sign-offs, each keyed by its request id."""

    records: list[PolicyRecord] = Field(default_factory=list)
    signoffs: list[ReportSignoff] = Field(default_factory=list)

    def signoff_for(self, message_id: str) -> ReportSignoff | None:
        """The sign-off of one draft message, if it was signed."""
        return next((s for s in self.signoffs if s.message_id == message_id), None)


def merge_ledger(left: PolicyLedger | None, right: PolicyLedger | None) -> PolicyLedger:
    """Reducer: upsert records and sign-offs by request id, so a replayed write never duplicates."""
    merged = (left or PolicyLedger()).model_copy(deep=True)
    for record in (right or PolicyLedger()).records:
        merged.records = [r for r in merged.records if r.request_id != record.request_id]
        merged.records.append(record)
    known = {s.request_id for s in merged.signoffs}
    merged.signoffs += [s for s in (right or PolicyLedger()).signoffs if s.request_id not in known]
    return merged


class MedGraphState(TypedDict, total=False):
    """The graph state checkpointed after every node."""

    messages: Annotated[list[AnyMessage], add_messages]
    attachments: list[Attachment]
    user_id: str
    tenant_id: str
    route: RoutePlan | None
    answers: Annotated[list[AgentAnswer], merge_answers]
    phi_vault: PhiVault
    guard: GuardOutcome | None
    policy: Annotated[PolicyLedger, merge_ledger]
