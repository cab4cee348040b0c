"""Wire shapes of policy decisions and gated actions: requests, decisions, plans, approvals.

Usage:
    request = ActionRequest(action="export_thread", role="clinician", data_class="phi",
                            destination="local_file")
    reply = Approval(approver="ada", role="admin", decision="approve", note="minimum necessary")
    payload = ApprovalRequest(...).model_dump(mode="json")     # what `interrupt` carries
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from state.schema import Effect, ReportSignoff, Role
from tools.policy.actions import ActionName, DataClass, Destination
from tools.policy.rules import AttributeValue


class ActionRequest(BaseModel):
    """What is asked: the action, who asks (their role), the data and where it would go."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    action: ActionName
    role: Role
    data_class: DataClass
    destination: Destination
    attributes: dict[str, AttributeValue] = Field(default_factory=dict)


class PolicyDecision(BaseModel):
    """The evaluator's answer: the effect, the rules behind it, their sections and reasons."""

    model_config = ConfigDict(frozen=True)

    effect: Effect
    rule_ids: tuple[str, ...]
    sections: tuple[str, ...]
    reason: str
    approvers: tuple[Role, ...] = ()
    restore_phi: bool = False


class Approval(BaseModel):
    """A human's reply to a paused action: who, in which role, approve or reject, and a note."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    approver: str = Field(min_length=1, max_length=128)
    role: Role
    decision: Literal["approve", "reject"]
    note: str = Field(default="", max_length=500)


class ActionPlan(BaseModel):
    """A request made concrete: its id, facts, decision and a preview of its effect."""

    model_config = ConfigDict(frozen=True)

    request_id: str
    action: ActionName
    requested_by: str
    requested_role: Role
    request: ActionRequest | None = None
    decision: PolicyDecision | None = None
    summary: str
    preview: str = ""
    target: dict[str, str] = Field(default_factory=dict)
    unavailable: str | None = Field(default=None, description="why it cannot be carried out")


class ActionResult(BaseModel):
    """What an executed action did (counts, ids and paths; never content)."""

    summary: str
    result: dict[str, str | int] = Field(default_factory=dict)
    signoff: ReportSignoff | None = None


class CitedSection(BaseModel):
    """A policy section an approval request cites: its id and heading."""

    id: str
    title: str


class ApprovalRequest(BaseModel):
    """What a paused action shows its approver: the interrupt's value (plain JSON)."""

    kind: Literal["approval"] = "approval"
    request_id: str
    action: ActionName
    summary: str
    requested_by: str
    requested_role: Role
    decision: PolicyDecision
    preview: str
    citations: list[CitedSection]
    refusal: str | None = Field(default=None, description="why the last reply was refused")
