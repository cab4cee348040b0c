"""Every server flow through the official `langgraph-sdk` client, sync and async, on loopback.

The model is a scripted endpoint that echoes each message (`Noted: <message>.`); routing,
guards, Redis checkpoints, the run store and the Postgres audit are real.
"""

from __future__ import annotations

import contextlib
import uuid

import httpx
import pytest
from langgraph_sdk import get_client, get_sync_client
from langgraph_sdk.errors import ConflictError, NotFoundError

from app.server.views import ASSISTANT_ID
from tests.app.server.harness import wait_for_status

pytestmark = pytest.mark.services


def say(tag: str, turn: int) -> str:
    """A message every guard passes and the router sends to `general` (checked wording)."""
    return f"hello, good morning from thread {tag} turn {turn}"


def user(tag: str, turn: int = 1) -> dict:
    return {"messages": [{"role": "user", "content": say(tag, turn)}]}


def noted(tag: str, turn: int = 1) -> str:
    """The scripted model's answer to `say(tag, turn)`."""
    return f"Noted: {say(tag, turn)}."


@pytest.fixture
def ada(server, api_keys):
    return get_sync_client(url=server.url, api_key=api_keys["ada"])


@contextlib.contextmanager
def slow_model(endpoint, delay_s: float):
    endpoint.delay_s = delay_s
    try:
        yield
    finally:
        endpoint.delay_s = 0.0


def test_assistant_is_found_by_search_by_id_and_by_graph_name(ada):
    [found] = ada.assistants.search(graph_id="medgraph")
    assert found["assistant_id"] == ASSISTANT_ID
    assert ada.assistants.get(ASSISTANT_ID) == found == ada.assistants.get("medgraph")
    assert ada.assistants.search(graph_id="other") == []
    assert ada.assistants.get_graph("medgraph")["nodes"]
    with pytest.raises(NotFoundError):
        ada.assistants.get("no-such-assistant")


def test_thread_create_get_search_delete(ada):
    thread_id = str(uuid.uuid4())
    created = ada.threads.create(thread_id=thread_id, metadata={"ward": "icu"})
    assert created["thread_id"] == thread_id and created["status"] == "idle"
    again = ada.threads.create(thread_id=thread_id, metadata={"ward": "er"}, if_exists="do_nothing")
    assert again["metadata"] == {"ward": "icu"}
    with pytest.raises(ConflictError):
        ada.threads.create(thread_id=thread_id)
    assert ada.threads.get(thread_id)["metadata"] == {"ward": "icu"}
    found = ada.threads.search(metadata={"ward": "icu"}, limit=100)
    assert thread_id in [t["thread_id"] for t in found]
    assert thread_id not in [t["thread_id"] for t in ada.threads.search(status="busy", limit=100)]
    ada.threads.delete(thread_id)
    with pytest.raises(NotFoundError):
        ada.threads.get(thread_id)
    with pytest.raises(NotFoundError):
        ada.threads.delete(thread_id)


def test_wait_answers_each_turn_and_state_and_history_follow(ada):
    thread_id = ada.threads.create()["thread_id"]
    first = ada.runs.wait(thread_id, "medgraph", input=user("w", 1))
    second = ada.runs.wait(thread_id, ASSISTANT_ID, input=user("w", 2))
    assert [m["type"] for m in second["messages"]] == ["human", "ai", "human", "ai"]
    assert first["messages"][1]["content"].startswith(noted("w", 1))
    assert second["messages"][3]["content"].startswith(noted("w", 2))
    assert second["messages"][3]["name"] == "general"
    assert "phi_vault" not in second and "answers" not in second

    state = ada.threads.get_state(thread_id)
    assert state["next"] == [] and state["values"]["messages"] == second["messages"]
    assert state["checkpoint"]["thread_id"] == thread_id
    assert state["metadata"]["user_id"] == "ada" and state["metadata"]["tenant_id"] == "acme"
    history = ada.threads.get_history(thread_id, limit=50)
    assert history[0]["checkpoint"] == state["checkpoint"]
    assert [len(h["values"].get("messages", [])) for h in history][-1] == 0
    older = next(h for h in history if len(h["values"].get("messages", [])) == 2)
    at = ada.threads.get_state(thread_id, checkpoint_id=older["checkpoint"]["checkpoint_id"])
    assert at["values"]["messages"] == first["messages"]
    assert len(ada.threads.get_history(thread_id, limit=3)) == 3
    before = ada.threads.get_history(thread_id, limit=50, before=older["checkpoint"])
    assert all(len(h["values"].get("messages", [])) <= 2 for h in before)
    assert ada.threads.get(thread_id)["status"] == "idle"


def test_stream_sends_values_updates_and_token_messages_with_guarded_answers(ada):
    thread_id = ada.threads.create()["thread_id"]
    parts = list(
        ada.runs.stream(
            thread_id,
            "medgraph",
            input=user("s"),
            stream_mode=["values", "updates", "messages"],
        )
    )
    events = [p.event for p in parts]
    assert events[0] == "metadata" and "run_id" in parts[0].data
    assert all(p.id for p in parts), "every event carries its id for reconnects"
    partials = [p.data[0]["content"] for p in parts if p.event == "messages/partial"]
    assert len(partials) >= 3, "the answer streams as several token messages"
    assert partials[0] != partials[-1] and partials[-1].startswith(partials[0])
    assert partials[-1] == noted("s")
    [complete] = [p.data[0] for p in parts if p.event == "messages/complete"]
    assert complete["type"] == "ai" and complete["content"].startswith(partials[-1])
    metadata = [p.data for p in parts if p.event == "messages/metadata"]
    assert {m["metadata"]["langgraph_node"] for d in metadata for m in d.values()} == {
        "general",
        "output_guard",
    }
    updates = [p.data for p in parts if p.event == "updates"]
    route = next(u["supervisor"]["route"] for u in updates if "supervisor" in u)
    assert route["tasks"][0]["intent"] == "general"
    assert all("messages" not in u.get("respond", {}) for u in updates), "drafts stay hidden"
    values = [p.data for p in parts if p.event == "values"]
    assert values[-1]["messages"][-1]["content"] == complete["content"]


def test_messages_tuple_mode_streams_chunks_with_node_metadata(ada):
    thread_id = ada.threads.create()["thread_id"]
    parts = list(
        ada.runs.stream(thread_id, "medgraph", input=user("tp"), stream_mode="messages-tuple")
    )
    tuples = [p.data for p in parts if p.event == "messages"]
    chunks = [c for c, meta in tuples if meta["langgraph_node"] == "general"]
    assert "".join(c["content"] for c in chunks) == noted("tp")
    assert all("tenant_id" not in meta and "thread_id" not in meta for _, meta in tuples)
    assert not [p for p in parts if p.event in ("values", "updates")]


def test_background_run_is_joined_listed_and_its_stream_replayed(ada):
    thread_id = ada.threads.create()["thread_id"]
    run = ada.runs.create(thread_id, "medgraph", input=user("bg"))
    assert run["status"] in ("pending", "running", "success")
    joined = ada.runs.join(thread_id, run["run_id"])
    assert joined["messages"][-1]["content"].startswith(noted("bg"))
    assert ada.runs.get(thread_id, run["run_id"])["status"] == "success"
    assert [r["run_id"] for r in ada.runs.list(thread_id)] == [run["run_id"]]
    replay = list(ada.runs.join_stream(thread_id, run["run_id"]))
    assert replay[0].event == "metadata" and replay[1].event == "values"
    rest = list(ada.runs.join_stream(thread_id, run["run_id"], last_event_id=replay[1].id))
    assert [p.id for p in rest] == [p.id for p in replay[2:]]


def test_second_run_on_a_busy_thread_is_refused_with_409_and_the_first_finishes(
    ada, scripted_endpoint
):
    thread_id = ada.threads.create()["thread_id"]
    with slow_model(scripted_endpoint, 0.3):
        first = ada.runs.create(thread_id, "medgraph", input=user("two", 1))
        with pytest.raises(ConflictError, match="reject"):
            ada.runs.create(thread_id, "medgraph", input=user("two", 2))
        with pytest.raises(httpx.HTTPStatusError) as refused:
            ada.runs.wait(thread_id, "medgraph", input=user("two", 2))
        assert refused.value.response.status_code == 409
        assert ada.threads.get(thread_id)["status"] == "busy"
        done = ada.runs.join(thread_id, first["run_id"])
    assert [m["type"] for m in done["messages"]] == ["human", "ai"]
    after = ada.runs.wait(thread_id, "medgraph", input=user("two", 3))
    assert len(after["messages"]) == 4


def test_cancel_stops_a_run_and_the_thread_takes_the_next_one(ada, scripted_endpoint):
    thread_id = ada.threads.create()["thread_id"]
    # An 8 s reply: the cancel must land while the model is still answering, even on a loaded
    # CI machine where this server thread shares the test process (0.5 s per chunk once lost).
    with slow_model(scripted_endpoint, 2.0):
        run = ada.runs.create(thread_id, "medgraph", input=user("cx", 1))
        wait_for_status(ada, thread_id, run["run_id"], "running")
        ada.runs.cancel(thread_id, run["run_id"])
        ada.runs.join(thread_id, run["run_id"])
    assert ada.runs.get(thread_id, run["run_id"])["status"] == "interrupted"
    assert ada.threads.get(thread_id)["status"] == "idle"
    after = ada.runs.wait(thread_id, "medgraph", input=user("cx", 2))
    assert after["messages"][-1]["content"].startswith(noted("cx", 2))


def test_a_stream_client_that_disconnects_leaves_the_run_running_and_whole(ada, scripted_endpoint):
    thread_id = ada.threads.create()["thread_id"]
    with slow_model(scripted_endpoint, 0.2):
        stream = ada.runs.stream(thread_id, "medgraph", input=user("dc"), stream_mode="messages")
        run_id = next(stream).data["run_id"]
        next(p for p in stream if p.event == "messages/partial")
        stream.close()
        joined = ada.runs.join(thread_id, run_id)
    assert ada.runs.get(thread_id, run_id)["status"] == "success"
    assert [m["type"] for m in joined["messages"]] == ["human", "ai"]
    assert joined["messages"][1]["content"].startswith(noted("dc"))


def test_a_stream_with_on_disconnect_cancel_stops_the_run(ada, scripted_endpoint):
    thread_id = ada.threads.create()["thread_id"]
    with slow_model(scripted_endpoint, 0.5):
        stream = ada.runs.stream(
            thread_id,
            "medgraph",
            input=user("dcc"),
            stream_mode="messages",
            on_disconnect="cancel",
        )
        run_id = next(stream).data["run_id"]
        stream.close()
        ada.runs.join(thread_id, run_id)
    assert ada.runs.get(thread_id, run_id)["status"] == "interrupted"


def test_stateless_wait_runs_on_a_new_thread_of_the_tenant(ada):
    values = ada.runs.wait(None, "medgraph", input=user("sl"))
    assert values["messages"][-1]["content"].startswith(noted("sl"))
    parts = list(ada.runs.stream(None, "medgraph", input=user("sl", 2)))
    assert parts[-1].event == "values"


async def test_async_client_streams_waits_joins_and_reads_state(server, api_keys):
    client = get_client(url=server.url, api_key=api_keys["ada"])
    thread_id = (await client.threads.create(metadata={"client": "async"}))["thread_id"]
    parts = [
        p
        async for p in client.runs.stream(
            thread_id, "medgraph", input=user("as", 1), stream_mode="messages"
        )
    ]
    assert [p.data[0]["content"] for p in parts if p.event == "messages/partial"][-1] == (
        noted("as", 1)
    )
    values = await client.runs.wait(thread_id, "medgraph", input=user("as", 2))
    assert len(values["messages"]) == 4
    run = await client.runs.create(thread_id, "medgraph", input=user("as", 3))
    joined = await client.runs.join(thread_id, run["run_id"])
    assert joined["messages"][-1]["content"].startswith(noted("as", 3))
    state = await client.threads.get_state(thread_id)
    assert len(state["values"]["messages"]) == 6
    assert len(await client.threads.get_history(thread_id, limit=100)) > 6
    [found] = await client.threads.search(metadata={"client": "async"}, limit=100)
    assert found["thread_id"] == thread_id
    await client.threads.delete(thread_id)
    with pytest.raises(NotFoundError):
        await client.threads.get_state(thread_id)
