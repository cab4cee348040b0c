"""Small real LangGraph graphs that the state tests run against every checkpointer."""

from __future__ import annotations

import itertools
import operator
import time
from pathlib import Path
from typing import Annotated

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import interrupt
from typing_extensions import TypedDict


class TurnState(TypedDict, total=False):
    """A thread's state: every step appends its tag, so lost or repeated steps show."""

    thread: str
    turns: int
    steps: Annotated[list[str], operator.add]
    approved: str


def build_turn_graph(saver: BaseCheckpointSaver) -> CompiledStateGraph:
    """route -> answer: two checkpointed steps per turn."""

    def route(state: TurnState) -> TurnState:
        return {"turns": state.get("turns", 0) + 1, "steps": [f"{state['thread']}:route"]}

    def answer(state: TurnState) -> TurnState:
        return {"steps": [f"{state['thread']}:answer:{state['turns']}"]}

    builder = StateGraph(TurnState)
    builder.add_node("route", route)
    builder.add_node("answer", answer)
    builder.add_edge(START, "route")
    builder.add_edge("route", "answer")
    builder.add_edge("answer", END)
    return builder.compile(checkpointer=saver)


def build_approval_graph(saver: BaseCheckpointSaver) -> CompiledStateGraph:
    """draft -> approve (human interrupt) -> publish."""

    def draft(state: TurnState) -> TurnState:
        return {"steps": ["draft"]}

    def approve(state: TurnState) -> TurnState:
        return {"approved": interrupt({"question": "publish?"}), "steps": ["approve"]}

    def publish(state: TurnState) -> TurnState:
        return {"steps": [f"publish:{state['approved']}"]}

    builder = StateGraph(TurnState)
    builder.add_node("draft", draft)
    builder.add_node("approve", approve)
    builder.add_node("publish", publish)
    builder.add_edge(START, "draft")
    builder.add_edge("draft", "approve")
    builder.add_edge("approve", "publish")
    builder.add_edge("publish", END)
    return builder.compile(checkpointer=saver)


def build_slow_graph(
    saver: BaseCheckpointSaver, n_steps: int, delay_s: float, log: Path | None = None
) -> CompiledStateGraph:
    """A chain of `n_steps` nodes, each sleeping `delay_s` and appending its name once.

    Every execution of a node is also appended to `log`, so re-runs are visible.
    """
    builder = StateGraph(TurnState)

    def make(name: str):
        def node(state: TurnState) -> TurnState:
            if log is not None:
                with log.open("a") as f:
                    f.write(name + "\n")
            time.sleep(delay_s)
            return {"steps": [name]}

        return node

    names = [f"step{i}" for i in range(n_steps)]
    for name in names:
        builder.add_node(name, make(name))
    builder.add_edge(START, names[0])
    for a, b in itertools.pairwise(names):
        builder.add_edge(a, b)
    builder.add_edge(names[-1], END)
    return builder.compile(checkpointer=saver)
