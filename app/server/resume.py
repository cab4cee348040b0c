"""Check a run's `command={"resume": …}` against the thread's interrupts and the caller.

A generic interrupt gets the client's value as it is. A policy approval is answered as the API
key's user and role, never as whoever the payload names: the reply is rebuilt with
`graphs.approvals.resume_command`, which also refuses a role the request's rules do not accept.
A reply that claims another approver or role is refused outright.

Accepted approval replies: `{"decision": "approve" | "reject", "note": …, "request_id": …}`,
the same keyed by the interrupt id, or a full `Approval` naming the caller.
"""

from __future__ import annotations

from typing import Any

from langgraph.types import StateSnapshot

from app.server.keys import Principal
from graphs.approvals import approvals_in, resume_command
from state.errors import Conflict, InputError, PermissionDenied


def resume_value(thread_id: str, state: StateSnapshot, value: Any, who: Principal) -> Any:
    """The resume value to run with; raises when there is nothing to resume or it is refused."""
    if not state.interrupts:
        raise Conflict(f"thread {thread_id} is not waiting on an interrupt; nothing to resume")
    pending = approvals_in(thread_id, state.interrupts)
    if not pending:
        return value
    request_id = None
    by_interrupt = {p.interrupt_id: p for p in pending}
    if isinstance(value, dict) and len(value) == 1 and next(iter(value)) in by_interrupt:
        interrupt_id, value = next(iter(value.items()))
        request_id = by_interrupt[interrupt_id].request.request_id
    if not isinstance(value, dict):
        raise InputError('answer an approval with {"decision": "approve" or "reject", "note": …}')
    if value.get("approver") not in (None, who.user) or value.get("role") not in (None, who.role):
        raise PermissionDenied(
            f"approvals are made as the API key's user ({who.user}, {who.role}), "
            "not as another approver or role"
        )
    command = resume_command(
        pending,
        approver=who.user,
        role=who.role,
        decision=value.get("decision"),  # type: ignore[arg-type]  # checked by Approval
        note=str(value.get("note", "")),
        request_id=value.get("request_id") or request_id,
    )
    return command.resume
