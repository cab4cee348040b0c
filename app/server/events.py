"""Turn the graph's stream chunks into LangGraph Server API events, showing only guarded answers.

The graph streams `values`, `updates` and `messages`; clients get the modes they asked for, in
the shapes `langgraph-sdk` parses: `values`, `updates`, `messages/metadata` +
`messages/partial` + `messages/complete` (mode `messages`), `messages` tuples (mode
`messages-tuple`) and `custom`.

Users see only guarded answers: agent tokens stream as partial messages (a transient draft, as
in the CLI), but complete messages come from the `output_guard` node only. The unguarded drafts
of `respond`, `clarify` and `refuse` are left out of `updates`, and the `values` snapshot of
their step is skipped, so a client never shows an answer the output guard did not pass.

Usage:
    translator = StreamTranslator(["values", "messages"])
    async for mode, chunk in graph.astream(graph_input, config, stream_mode=translator.graph_modes):
        for event, data in translator.translate(mode, chunk):
            ...
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from langchain_core.messages import (
    AIMessageChunk,
    BaseMessage,
    BaseMessageChunk,
    message_chunk_to_message,
)
from langgraph.types import Interrupt

from app.server.views import public_update, public_values
from graphs.guard_nodes import OUTPUT_GUARD, REFUSE
from graphs.supervisor import CLARIFY, RESPOND
from state.schema import INTENTS

UNGUARDED_NODES = frozenset({RESPOND, CLARIFY, REFUSE})
INTERRUPT_KEY = "__interrupt__"
Event = tuple[str, Any]


def _metadata(meta: Mapping[str, Any]) -> dict[str, Any]:
    """Stream metadata without the internal config (ids, tenant) LangGraph copies into it."""
    return {
        k: v
        for k, v in meta.items()
        if k.startswith("langgraph_") or k in ("checkpoint_ns", "tags", "name")
    }


class StreamTranslator:
    """Per-run translation state: token messages so far, the step's nodes, interrupts."""

    def __init__(self, modes: list[str]) -> None:
        self.modes = set(modes)
        self.interrupts: list[Interrupt] = []
        self._step_nodes: set[str] = set()
        self._partial: dict[str, BaseMessageChunk] = {}
        self._announced: set[str] = set()

    @property
    def graph_modes(self) -> list[str]:
        """Graph stream modes: updates always (interrupts, routes), and what the client wants."""
        wanted = {"updates"}
        if "values" in self.modes:
            wanted.add("values")
        if self.modes & {"messages", "messages-tuple"}:
            wanted.add("messages")
        if "custom" in self.modes:
            wanted.add("custom")
        return sorted(wanted)

    def translate(self, mode: str, chunk: Any) -> list[Event]:
        """The API events for one graph chunk (possibly none)."""
        if mode == "updates":
            return self._updates(chunk)
        if mode == "values":
            return self._values(chunk)
        if mode == "messages":
            message, meta = chunk
            return self._token(message, meta)
        return [(mode, chunk)] if mode in self.modes else []

    def _values(self, chunk: Any) -> list[Event]:
        skip = bool(self._step_nodes & UNGUARDED_NODES)
        self._step_nodes = set()
        if skip or "values" not in self.modes:
            return []
        return [("values", public_values(chunk))]

    def _updates(self, chunk: Any) -> list[Event]:
        if not isinstance(chunk, Mapping):
            return []
        events: list[Event] = []
        shown: dict[str, Any] = {}
        for node, update in chunk.items():
            if node == INTERRUPT_KEY:
                self.interrupts.extend(update)
                shown[node] = update
                continue
            self._step_nodes.add(node)
            if node in UNGUARDED_NODES and isinstance(update, Mapping):
                update = {k: v for k, v in update.items() if k != "messages"}
            shown[node] = update
            if node == OUTPUT_GUARD and isinstance(update, Mapping):
                for message in update.get("messages", []):
                    events += self._complete(message, {"langgraph_node": OUTPUT_GUARD})
        if "updates" in self.modes:
            events.insert(0, ("updates", public_update(shown)))
        return events

    def _token(self, message: BaseMessage, meta: Mapping[str, Any]) -> list[Event]:
        node = meta.get("langgraph_node")
        if not isinstance(message, AIMessageChunk) or node not in INTENTS or message.id is None:
            return []
        metadata = _metadata(meta)
        events: list[Event] = []
        if "messages-tuple" in self.modes:
            events.append(("messages", [message, metadata]))
        if "messages" in self.modes:
            known = self._partial.get(message.id)
            self._partial[message.id] = message if known is None else known + message
            events += self._announce(message.id, metadata)
            events.append(
                ("messages/partial", [message_chunk_to_message(self._partial[message.id])])
            )
        return events

    def _complete(self, message: BaseMessage, metadata: dict[str, Any]) -> list[Event]:
        events: list[Event] = []
        if "messages-tuple" in self.modes:
            events.append(("messages", [message, metadata]))
        if "messages" in self.modes and message.id is not None:
            events += self._announce(message.id, metadata)
            events.append(("messages/complete", [message]))
        return events

    def _announce(self, message_id: str, metadata: dict[str, Any]) -> list[Event]:
        if message_id in self._announced:
            return []
        self._announced.add(message_id)
        return [("messages/metadata", {message_id: {"metadata": metadata}})]
