"""The pydantic classes the graphs' states can hold, which the checkpointer may rebuild.

`state.serde.checkpoint_serde` rebuilds only the classes it is given. The supervisor's state
(`MedGraphState`) holds the records of `state.schema`; the policy subgraph's state
(`PolicyFlow`) adds the policy plan, the approval and the action result of `tools.policy.schema`.
This walks both states' annotations (through `list`, `Optional`, `Annotated`, nested TypedDicts
and pydantic fields) so a new field's type is allowed without a second list to keep in step.
LangGraph collects the same thing itself, but only in strict-msgpack mode and through private
helpers, so we do it here.

Usage:
    with open_checkpointer(url, record_types=graph_record_types()) as saver: ...
"""

from __future__ import annotations

from typing import Any, get_args, get_type_hints

from pydantic import BaseModel
from typing_extensions import is_typeddict

from graphs.approvals import PolicyFlow
from graphs.supervisor import AgentInput
from state.schema import MedGraphState


def _collect(annotation: Any, found: dict[str, type[BaseModel]], seen: set[int]) -> None:
    if id(annotation) in seen:
        return
    seen.add(id(annotation))
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        found[f"{annotation.__module__}.{annotation.__qualname__}"] = annotation
        for field in annotation.model_fields.values():
            _collect(field.annotation, found, seen)
    elif is_typeddict(annotation):
        for hint in get_type_hints(annotation, include_extras=True).values():
            _collect(hint, found, seen)
    for argument in get_args(annotation):
        _collect(argument, found, seen)


def graph_record_types() -> tuple[type[BaseModel], ...]:
    """Every pydantic class reachable from the supervisor's and the policy subgraph's states."""
    found: dict[str, type[BaseModel]] = {}
    seen: set[int] = set()
    for state in (MedGraphState, AgentInput, PolicyFlow):
        _collect(state, found, seen)
    return tuple(found[name] for name in sorted(found))
