"""The checkpoint serializer: LangGraph's, told which MedGraph classes it may rebuild.

LangGraph's `JsonPlusSerializer` stores a pydantic value with its module and class name and, by
default, imports and constructs any class a checkpoint names, logging "Deserializing unregistered
type …; this will be blocked in a future version" for each one outside its own safe list. That
printed a warning per state record in every chat session, and it would construct whatever class a
checkpoint in a shared Redis named. Ours allows the records of `state.schema` and the classes
the caller names (the graphs' other state types, `graphs.checkpoint_types`), plus LangGraph's
safe list (messages, dates, ...): they load as before, without warnings, and keep loading when
LangGraph turns blocking on. Any other class comes back as its plain field data.

Usage:
    saver = PostgresSaver(pool, serde=checkpoint_serde([ActionPlan]))
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable

from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer
from pydantic import BaseModel

from state import schema


def state_record_types() -> tuple[type[BaseModel], ...]:
    """The pydantic records defined in `state.schema`, the classes a checkpoint may hold."""
    return tuple(
        cls
        for _, cls in inspect.getmembers(schema, inspect.isclass)
        if issubclass(cls, BaseModel) and cls.__module__ == schema.__name__
    )


def checkpoint_serde(record_types: Iterable[type[BaseModel]] = ()) -> JsonPlusSerializer:
    """A serializer that rebuilds LangGraph's safe types, the records of `state.schema` and
    `record_types`, and nothing else."""
    allowed = {(cls.__module__, cls.__name__) for cls in (*state_record_types(), *record_types)}
    return JsonPlusSerializer(allowed_msgpack_modules=sorted(allowed))
