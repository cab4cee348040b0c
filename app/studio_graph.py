"""The graph LangGraph's own server loads (`langgraph dev`, LangGraph Studio; see langgraph.json).

It is the same supervisor graph `medgraph serve` runs, built from the same settings, but without
a checkpointer: LangGraph's server brings its own persistence (in memory for `langgraph dev`).
The runtime is opened once per process, on the first call, and closed at exit.

Usage:
    langgraph dev --config langgraph.json     # graph "medgraph" → app/studio_graph.py:make_graph
"""

from __future__ import annotations

import atexit
import functools

from langgraph.graph.state import CompiledStateGraph

from app.runtime import Runtime
from app.settings import get_settings


@functools.cache
def _runtime() -> Runtime:
    runtime = Runtime(get_settings())
    runtime.__enter__()
    atexit.register(runtime.__exit__, None, None, None)
    return runtime


def make_graph() -> CompiledStateGraph:
    """The MedGraph supervisor graph without a checkpointer (cheap after the first call)."""
    return _runtime().graph.copy(update={"checkpointer": None})
