"""Two workers on one Redis: a run started through one is streamed, joined and cancelled through
the other (events from the Redis stream, the cancel over pub/sub), as with `serve --workers N`.

Both workers run in this process on the shared runtime (Milvus Lite opens in one process only);
the model is the scripted endpoint, slowed so that the runs are still going.
"""

from __future__ import annotations

import time

import pytest
from langgraph_sdk import get_sync_client
from langgraph_sdk.errors import ConflictError

from app.server.app import create_app
from tests.app.server.conftest import server_settings_for, store_prefix
from tests.app.server.harness import ServerThread

pytestmark = pytest.mark.services


def user(turn: int) -> dict:
    return {
        "messages": [{"role": "user", "content": f"hello, good morning from thread 8 turn {turn}"}]
    }


def test_a_run_on_one_worker_is_streamed_joined_and_cancelled_through_another(
    tmp_path, server_settings, server_runtime, api_keys, scripted_endpoint
):
    settings = server_settings_for(tmp_path, server_settings.model_base_url, store_prefix("pair"))
    settings = settings.model_copy(
        update={"server_api_keys_file": server_settings.resolved_server_keys_file}
    )
    scripted_endpoint.delay_s = 0.3
    try:
        with (
            ServerThread(create_app(settings, runtime=server_runtime)) as first,
            ServerThread(create_app(settings, runtime=server_runtime)) as second,
        ):
            one = get_sync_client(url=first.url, api_key=api_keys["ada"])
            two = get_sync_client(url=second.url, api_key=api_keys["ada"])
            thread_id = one.threads.create()["thread_id"]
            run = one.runs.create(thread_id, "medgraph", input=user(1), stream_mode="messages")
            with pytest.raises(ConflictError):
                two.runs.create(thread_id, "medgraph", input=user(2))
            parts = list(two.runs.join_stream(thread_id, run["run_id"]))
            partials = [p.data[0]["content"] for p in parts if p.event == "messages/partial"]
            assert partials[-1] == "Noted: hello, good morning from thread 8 turn 1."
            assert two.runs.join(thread_id, run["run_id"])["messages"][-1]["type"] == "ai"

            slow = one.runs.create(thread_id, "medgraph", input=user(2))
            deadline = time.monotonic() + 60
            while two.runs.get(thread_id, slow["run_id"])["status"] != "running":
                assert time.monotonic() < deadline
                time.sleep(0.05)
            two.runs.cancel(thread_id, slow["run_id"])
            two.runs.join(thread_id, slow["run_id"])
            assert one.runs.get(thread_id, slow["run_id"])["status"] == "interrupted"
    finally:
        scripted_endpoint.delay_s = 0.0
