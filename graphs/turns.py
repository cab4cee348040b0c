"""Run one conversation turn through a compiled graph and yield typed events.

Usage:
    for event in stream_turn(graph, thread_id="t1", text="hello", user_id="u", tenant_id="local"):
        print(event)
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from langchain_core.messages import AIMessage, AIMessageChunk, AnyMessage, HumanMessage
from langchain_core.runnables import RunnableConfig
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Command

from graphs.approvals import INTERRUPT_CHANNEL, PendingApproval, approvals_in
from graphs.audit_hooks import GraphAuditor
from graphs.guard_nodes import OUTPUT_GUARD
from state.schema import INTENTS, Attachment, PhiVault, RoutePlan


@dataclass(frozen=True)
class RouteEvent:
    """The supervisor decided where the turn goes."""

    plan: RoutePlan


@dataclass(frozen=True)
class TokenEvent:
    """A streamed piece of text from one agent's model call."""

    agent: str
    text: str


@dataclass(frozen=True)
class AnswerEvent:
    """A finished answer (one per agent, in plan order; `supervisor` for clarifying questions)."""

    agent: str
    text: str
    needs_human: bool


@dataclass(frozen=True)
class ApprovalEvent:
    """The turn paused: a gated action waits for a human's approval (`/approve`, `/reject`)."""

    pending: PendingApproval


TurnEvent = RouteEvent | TokenEvent | AnswerEvent | ApprovalEvent


def thread_config(thread_id: str, **identity: str) -> RunnableConfig:
    """The LangGraph config that selects a thread (plus user, tenant and run ids when given)."""
    return {"configurable": {"thread_id": thread_id, **identity}}


def stream_turn(
    graph: CompiledStateGraph,
    *,
    thread_id: str,
    text: str | None,
    user_id: str,
    tenant_id: str,
    auditor: GraphAuditor | None = None,
    restore_phi: bool = False,
    attachments: Sequence[Attachment] = (),
    user_role: str | None = None,
    resume: Command | None = None,
) -> Iterator[TurnEvent]:
    """Run a turn; `text=None` retries the interrupted turn from its last checkpoint.

    Answers come from the output guard. With `restore_phi`, redacted values are put back in
    the answers shown, and only when `user_id` is the user whose messages were redacted.
    With an `auditor`, the turn's events are flushed at its end; a failed turn is audited too.
    `attachments` belong to this turn only (each new turn replaces them). `user_role` is the
    role gated actions are requested in; `resume` answers a paused approval (`text=None`).
    """
    graph_input: Command | dict[str, Any] | None = resume
    if resume is None and text is not None:
        graph_input = {
            "messages": [HumanMessage(text)],
            "user_id": user_id,
            "tenant_id": tenant_id,
            "attachments": list(attachments),
        }
    identity = {"user_id": user_id, "tenant_id": tenant_id, "run_id": uuid.uuid4().hex}
    if user_role is not None:
        identity["user_role"] = user_role
    config = thread_config(thread_id, **identity)
    try:
        for event in _events(graph, graph_input, config):
            if restore_phi and isinstance(event, AnswerEvent):
                event = _restored(graph, config, event, user_id)
            yield event
    except Exception as exc:
        if auditor is not None:
            auditor.turn_error(config, exc)
            auditor.end_turn()
        raise
    if auditor is not None:
        auditor.end_turn()


def _events(
    graph: CompiledStateGraph,
    graph_input: Command | dict[str, Any] | None,
    config: RunnableConfig,
) -> Iterator[TurnEvent]:
    for mode, payload in graph.stream(graph_input, config, stream_mode=["messages", "updates"]):
        if mode == "messages":
            chunk, metadata = payload
            node = metadata.get("langgraph_node", "")
            if isinstance(chunk, AIMessageChunk) and node in INTENTS and chunk.text:
                yield TokenEvent(agent=node, text=chunk.text)
            continue
        for node, update in payload.items():
            if node == INTERRUPT_CHANNEL:
                thread_id = str(config["configurable"]["thread_id"])
                for pending in approvals_in(thread_id, update):
                    yield ApprovalEvent(pending)
                continue
            if not isinstance(update, dict):
                continue
            if node == "supervisor" and update.get("route") is not None:
                yield RouteEvent(plan=update["route"])
            for message in update.get("messages", []) if node == OUTPUT_GUARD else []:
                yield _answer_event(message)


def _restored(
    graph: CompiledStateGraph, config: RunnableConfig, event: AnswerEvent, user_id: str
) -> AnswerEvent:
    """The answer with the thread's placeholders restored, for the vault's owner only."""
    vault = graph.get_state(config).values.get("phi_vault")
    if not isinstance(vault, PhiVault) or not vault.entries or vault.owner != user_id:
        return event
    return AnswerEvent(
        agent=event.agent, text=vault.restore(event.text), needs_human=event.needs_human
    )


def _answer_event(message: AnyMessage) -> AnswerEvent:
    meta = message.response_metadata if isinstance(message, AIMessage) else {}
    return AnswerEvent(
        agent=message.name or "assistant",
        text=message.text,
        needs_human=bool(meta.get("needs_human", False)),
    )


def pending_retry(graph: CompiledStateGraph, thread_id: str) -> bool:
    """True when the thread's last turn stopped before finishing (a retry would resume it).

    A turn paused for an approval is waiting, not failed: it resumes with the human's reply.
    """
    state = graph.get_state(thread_config(thread_id))
    return bool(state.next) and not state.interrupts


def history(graph: CompiledStateGraph, thread_id: str) -> list[AnyMessage]:
    """The thread's messages, oldest first."""
    return list(graph.get_state(thread_config(thread_id)).values.get("messages", []))
