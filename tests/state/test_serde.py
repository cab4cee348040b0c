"""The checkpoint serializer: every state record survives a real checkpoint on each backend
without LangGraph's "unregistered type" warning, and a class outside `state.schema` is never
constructed from a checkpoint."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from langchain_core.messages import HumanMessage
from langgraph.checkpoint.base import empty_checkpoint
from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer
from pydantic import BaseModel

from state.checkpointer import open_async_checkpointer, open_checkpointer
from state.schema import (
    AgentAnswer,
    Attachment,
    GuardOutcome,
    PhiVault,
    PolicyLedger,
    PolicyRecord,
    ReportSignoff,
    RoutePlan,
    RouteTask,
)
from state.serde import checkpoint_serde, state_record_types

SIGNOFF = ReportSignoff(
    request_id="r1",
    message_id="m1",
    signed_by="dr-a",
    role="clinician",
    signed_at=datetime(2026, 11, 29, 12, 0, tzinfo=UTC),
    draft_sha256="0" * 64,
)
RECORDS: dict[str, object] = {
    "messages": [HumanMessage(content="hello", id="h1")],
    "route": RoutePlan(
        tasks=[RouteTask(intent="radiology", text="read this", confidence=0.9)],
        method="embedding",
        confidence=0.9,
    ),
    "answers": [AgentAnswer(order=0, agent="radiology", text="draft", citations=["c1"])],
    "phi_vault": PhiVault(owner="u1", entries={"<NAME_1>": "Ada"}, counters={"NAME": 1}),
    "guard": GuardOutcome(action="pass"),
    "attachments": [
        Attachment(kind="image", path="/tmp/x.png", name="x.png", size_bytes=3, sha256="1" * 64)
    ],
    "policy": PolicyLedger(
        records=[
            PolicyRecord(
                request_id="r1",
                action="export",
                requested_by="u1",
                requested_role="trainee",
                reason="needs approval",
                outcome="executed",
            )
        ],
        signoffs=[SIGNOFF],
    ),
}


class Planted(BaseModel):
    """A class a checkpoint might name that is not a MedGraph state record."""

    value: str


def test_the_allowlist_is_every_record_of_the_state_schema() -> None:
    names = {cls.__name__ for cls in state_record_types()}
    assert names == {
        "AgentAnswer",
        "Attachment",
        "GuardOutcome",
        "PhiVault",
        "PolicyLedger",
        "PolicyRecord",
        "ReportSignoff",
        "RoutePlan",
        "RouteTask",
    }


def _put_and_get(saver, thread_id: str) -> dict[str, object]:
    config = {"configurable": {"thread_id": thread_id, "checkpoint_ns": ""}}
    checkpoint = empty_checkpoint()
    checkpoint["channel_values"] = dict(RECORDS)
    versions = {name: 1 for name in RECORDS}
    checkpoint["channel_versions"] = versions
    saved = saver.put(config, checkpoint, {"source": "input", "step": -1}, versions)
    loaded = saver.get_tuple(saved)
    assert loaded is not None
    return loaded.checkpoint["channel_values"]


def test_every_state_record_round_trips_on_each_backend_without_a_warning(
    checkpoint_url, factory_kwargs, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level("WARNING"), open_checkpointer(checkpoint_url, **factory_kwargs) as saver:
        assert isinstance(saver.serde, JsonPlusSerializer)
        values = _put_and_get(saver, "serde-records")
    assert values == RECORDS
    assert isinstance(values["route"], RoutePlan)
    assert isinstance(values["route"].tasks[0], RouteTask)
    assert isinstance(values["policy"].signoffs[0].signed_at, datetime)
    assert not [r for r in caplog.records if "unregistered type" in r.getMessage()]


async def test_the_async_savers_use_the_same_serializer(checkpoint_url, factory_kwargs) -> None:
    async with open_async_checkpointer(checkpoint_url, **factory_kwargs) as saver:
        config = {"configurable": {"thread_id": "serde-async", "checkpoint_ns": ""}}
        checkpoint = empty_checkpoint()
        checkpoint["channel_values"] = {"route": RECORDS["route"]}
        checkpoint["channel_versions"] = {"route": 1}
        saved = await saver.aput(config, checkpoint, {"source": "input", "step": -1}, {"route": 1})
        loaded = await saver.aget_tuple(saved)
    assert loaded is not None and loaded.checkpoint["channel_values"]["route"] == RECORDS["route"]


def test_a_class_outside_the_state_schema_comes_back_as_plain_data() -> None:
    serde = checkpoint_serde()
    planted = serde.loads_typed(serde.dumps_typed({"x": Planted(value="boom")}))
    assert planted == {"x": {"value": "boom"}}
    permissive = JsonPlusSerializer()
    assert isinstance(permissive.loads_typed(permissive.dumps_typed(Planted(value="b"))), Planted)
