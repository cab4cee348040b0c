"""Runs survive their server: kill -9 mid-run, a graceful shutdown, a shutdown with time to spare.

The killed server is a real subprocess (`python -m app.server_cli`) whose model endpoint streams
slowly, so a run is surely in flight when it dies. The server that takes over runs in this
process on the same Redis prefix. The model is scripted (it echoes each message), so every
answer names its turn and a lost, repeated or mixed-up turn shows.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator

import pytest
from langgraph_sdk import get_sync_client

from app.server.app import create_app
from state.audit import open_audit
from tests.app.server.conftest import server_settings_for, store_prefix
from tests.app.server.harness import (
    ServerThread,
    free_port,
    spawn_server,
    wait_for_status,
    wait_until_ready,
)
from tests.app.server.scripted_endpoint import ScriptedEndpoint
from tests.conftest import POSTGRES_URL, REDIS_URL

pytestmark = pytest.mark.services


def said(tag: str, turn: int) -> str:
    return f"hello, good morning from thread {tag} turn {turn}"


def user(tag: str, turn: int) -> dict:
    return {"messages": [{"role": "user", "content": said(tag, turn)}]}


def assert_turns_answered_once_in_order(values: dict, tag: str, turns: int) -> None:
    messages = values["messages"]
    assert [m["type"] for m in messages] == ["human", "ai"] * turns
    for turn in range(1, turns + 1):
        human, answer = messages[2 * turn - 2], messages[2 * turn - 1]
        assert human["content"] == said(tag, turn)
        assert answer["content"].startswith(f"Noted: {said(tag, turn)}.")


@pytest.fixture
def slow_endpoint() -> Iterator[ScriptedEndpoint]:
    with ScriptedEndpoint(chunks=8, delay_s=0.4) as endpoint:
        yield endpoint


def test_kill_9_mid_run_then_another_server_finishes_the_turn_and_the_audit_verifies(
    tmp_path, server_settings, server_runtime, api_keys, slow_endpoint
):
    prefix = store_prefix("kill")
    port = free_port()
    env = {
        "MEDGRAPH_DATA_DIR": str(tmp_path / "killed"),
        "MEDGRAPH_MODEL_BASE_URL": slow_endpoint.base_url,
        "MEDGRAPH_CHECKPOINT_URL": REDIS_URL,
        "MEDGRAPH_AUDIT_URL": POSTGRES_URL,
        "MEDGRAPH_SERVER_REDIS_PREFIX": prefix,
        "MEDGRAPH_SERVER_WORKER_LEASE_S": "2",
        "MEDGRAPH_SERVER_API_KEYS_FILE": str(server_settings.resolved_server_keys_file),
    }
    proc = spawn_server(env, port, tmp_path / "server.log")
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until_ready(url, proc)
        client = get_sync_client(url=url, api_key=api_keys["ada"])
        thread_id = client.threads.create()["thread_id"]
        for turn in (1, 2):
            client.runs.wait(thread_id, "medgraph", input=user("kx", turn))
        run = client.runs.create(
            thread_id, "medgraph", input=user("kx", 3), stream_mode=["values", "messages"]
        )
        stream = client.runs.join_stream(thread_id, run["run_id"])
        next(p for p in stream if p.event == "messages/partial")
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL

    settings = server_settings_for(tmp_path / "taker", server_settings.model_base_url, prefix)
    settings = settings.model_copy(
        update={"server_api_keys_file": server_settings.resolved_server_keys_file}
    )
    with ServerThread(create_app(settings, runtime=server_runtime)) as taker:
        client = get_sync_client(url=taker.url, api_key=api_keys["ada"])
        values = client.runs.join(thread_id, run["run_id"])
        assert client.runs.get(thread_id, run["run_id"])["status"] == "success"
        assert [r["status"] for r in client.runs.list(thread_id)] == ["success"] * 3
        attempts = [
            p.data["attempt"]
            for p in client.runs.join_stream(thread_id, run["run_id"])
            if p.event == "metadata"
        ]
        assert client.threads.get(thread_id)["status"] == "idle"
        again = client.runs.wait(thread_id, "medgraph", input=user("kx", 4))
    assert attempts == [1, 2]
    assert_turns_answered_once_in_order(values, "kx", 3)
    assert_turns_answered_once_in_order(again, "kx", 4)
    with open_audit(POSTGRES_URL) as audit:
        result = audit.verify()
        assert result.ok, result.reason
        runs = {r.run for r in audit.for_thread(f"acme/{thread_id}")}
        assert run["run_id"] in runs


def test_graceful_shutdown_hands_unfinished_runs_over_to_the_next_server(
    tmp_path, server_settings, server_runtime, api_keys, scripted_endpoint
):
    prefix = store_prefix("drain")
    settings = server_settings_for(tmp_path, server_settings.model_base_url, prefix)
    settings = settings.model_copy(
        update={
            "server_api_keys_file": server_settings.resolved_server_keys_file,
            "server_shutdown_grace_s": 0.2,
        }
    )
    scripted_endpoint.delay_s = 0.5
    try:
        with ServerThread(create_app(settings, runtime=server_runtime)) as first:
            client = get_sync_client(url=first.url, api_key=api_keys["ada"])
            thread_id = client.threads.create()["thread_id"]
            run = client.runs.create(thread_id, "medgraph", input=user("gs", 1))
            wait_for_status(client, thread_id, run["run_id"], "running")
        with ServerThread(create_app(settings, runtime=server_runtime)) as second:
            client = get_sync_client(url=second.url, api_key=api_keys["ada"])
            values = client.runs.join(thread_id, run["run_id"])
            attempts = [
                p.data["attempt"]
                for p in client.runs.join_stream(thread_id, run["run_id"])
                if p.event == "metadata"
            ]
    finally:
        scripted_endpoint.delay_s = 0.0
    assert attempts == [1, 2]
    assert_turns_answered_once_in_order(values, "gs", 1)


def test_shutdown_lets_a_run_finish_within_the_grace_period(
    tmp_path, server_settings, server_runtime, api_keys, scripted_endpoint
):
    prefix = store_prefix("grace")
    settings = server_settings_for(tmp_path, server_settings.model_base_url, prefix)
    settings = settings.model_copy(
        update={
            "server_api_keys_file": server_settings.resolved_server_keys_file,
            "server_shutdown_grace_s": 30.0,
        }
    )
    scripted_endpoint.delay_s = 0.3
    try:
        with ServerThread(create_app(settings, runtime=server_runtime)) as first:
            client = get_sync_client(url=first.url, api_key=api_keys["ada"])
            thread_id = client.threads.create()["thread_id"]
            run = client.runs.create(thread_id, "medgraph", input=user("gf", 1))
            wait_for_status(client, thread_id, run["run_id"], "running")
    finally:
        scripted_endpoint.delay_s = 0.0
    with ServerThread(create_app(settings, runtime=server_runtime)) as second:
        client = get_sync_client(url=second.url, api_key=api_keys["ada"])
        assert client.runs.get(thread_id, run["run_id"])["status"] == "success"
        attempts = [
            p.data["attempt"]
            for p in client.runs.join_stream(thread_id, run["run_id"])
            if p.event == "metadata"
        ]
        values = client.threads.get_state(thread_id)["values"]
    assert attempts == [1]
    assert_turns_answered_once_in_order(values, "gf", 1)
