"""Operations: liveness, readiness (Redis, checkpointer, audit, model), metrics, JSON logs, docs,
and `langgraph.json` naming a graph factory that builds the same graph for `langgraph dev`.

Shared test server and runtime (scripted model endpoint; everything else real).
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import httpx
import pytest
from langgraph_sdk import get_sync_client

from app.server.app import create_app
from app.server.logs import JsonFormatter
from tests.app.server.harness import ServerThread

pytestmark = pytest.mark.services

ROOT = Path(__file__).resolve().parents[3]
MESSAGE = {"messages": [{"role": "user", "content": "hello, good morning from thread gr turn 1"}]}


def test_ok_and_ready_need_no_key_and_ready_checks_every_dependency(server, scripted_endpoint):
    assert httpx.get(f"{server.url}/ok").json() == {"ok": True}
    ready = httpx.get(f"{server.url}/ready")
    assert ready.status_code == 200, ready.text
    checks = ready.json()["checks"]
    assert {"redis", "checkpointer", "audit", f"model {scripted_endpoint.base_url}"} == set(checks)
    assert all(c["ok"] for c in checks.values())
    assert "postgresql://" in checks["audit"]["detail"]


def test_ready_is_503_and_names_the_endpoint_when_the_model_is_down(
    server_settings, server_runtime
):
    broken = server_settings.model_copy(update={"model_base_url": "http://127.0.0.1:9/v1"})
    with ServerThread(create_app(broken, runtime=server_runtime)) as other:
        reply = httpx.get(f"{other.url}/ready")
        assert httpx.get(f"{other.url}/ok").status_code == 200
    assert reply.status_code == 503
    check = reply.json()["checks"]["model http://127.0.0.1:9/v1"]
    assert check["ok"] is False and check["detail"]


def test_metrics_count_requests_runs_routes_and_guard_decisions(server, api_keys):
    client = get_sync_client(url=server.url, api_key=api_keys["ada"])
    client.runs.wait(client.threads.create()["thread_id"], "medgraph", input=MESSAGE)
    text = httpx.get(f"{server.url}/metrics").text
    assert (
        'medgraph_http_requests_total{method="POST",route="/threads/{thread_id}/runs/wait"' in text
    )
    assert 'medgraph_runs_total{status="success"}' in text
    assert 'medgraph_routes_total{intent="general",method="embedding"}' in text
    assert "medgraph_guard_decisions_total{" in text and 'action="pass"' in text
    assert "medgraph_runs_in_flight 0.0" in text
    assert "medgraph_http_request_seconds_bucket" in text


def test_logs_are_json_lines_with_request_and_run_ids(server, api_keys):
    records: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(self.format(record))

    handler = Collect()
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("medgraph.server")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        client = get_sync_client(url=server.url, api_key=api_keys["ada"])
        client.runs.wait(client.threads.create()["thread_id"], "medgraph", input=MESSAGE)
        reply = httpx.get(f"{server.url}/ok", headers={"x-request-id": "trace-me-42"})
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not (
            any('"run finished"' in r for r in records) and any("trace-me-42" in r for r in records)
        ):
            time.sleep(0.05)  # runs and requests log their end just after the client is answered
    finally:
        logger.removeHandler(handler)
    lines = [json.loads(r) for r in records]
    finished = [line for line in lines if line["msg"] == "run finished"]
    assert finished and finished[0]["status"] == "success" and finished[0]["run_id"]
    assert all({"ts", "level", "logger", "msg"} <= set(line) for line in lines)
    assert reply.headers["x-request-id"] == "trace-me-42"
    access = [line for line in lines if line["msg"] == "request" and line["path"] == "/ok"]
    assert access[-1]["request_id"] == "trace-me-42" and access[-1]["status"] == 200
    assert not any("good morning" in r for r in records), "logs never carry message text"


def test_openapi_documents_the_routes(server):
    spec = httpx.get(f"{server.url}/openapi.json").json()
    for path in ("/threads", "/threads/{thread_id}/runs/stream", "/threads/{thread_id}/history"):
        assert path in spec["paths"]
    assert httpx.get(f"{server.url}/docs").status_code == 200


def test_langgraph_json_names_a_factory_that_builds_the_graph_without_a_checkpointer(
    monkeypatch, server_settings, server_runtime
):
    config = json.loads((ROOT / "langgraph.json").read_text())
    path, _, name = config["graphs"]["medgraph"].partition(":")
    assert (ROOT / path).is_file() and config["dependencies"] == ["."]
    import app.studio_graph as studio

    assert name == "make_graph" and callable(getattr(studio, name))
    monkeypatch.setattr(studio, "_runtime", lambda: server_runtime)
    graph = studio.make_graph()
    assert graph.checkpointer is None
    assert set(graph.nodes) == set(server_runtime.graph.nodes)
    values = graph.invoke(
        {"messages": [("user", "hello, good morning from thread gr turn 2")], "user_id": "u"}
    )
    assert values["messages"][-1].content.startswith("Noted: hello, good morning")
