"""API keys and tenancy: no key or a bad key is 401; another tenant's thread is 404, never 403.

Runs on the shared test server (scripted model endpoint; everything else real).
"""

from __future__ import annotations

import httpx
import pytest
from langgraph_sdk import get_sync_client
from langgraph_sdk.errors import AuthenticationError, NotFoundError

from app.server.keys import add_key, revoke_key

pytestmark = pytest.mark.services

MESSAGE = {"messages": [{"role": "user", "content": "hello, good morning from thread tn turn 1"}]}


@pytest.fixture(scope="module")
def acme_thread(server, api_keys) -> tuple[str, str]:
    """A thread of tenant acme with one finished run: (thread id, run id)."""
    ada = get_sync_client(url=server.url, api_key=api_keys["ada"])
    thread_id = ada.threads.create(metadata={"owner": "acme"})["thread_id"]
    run = ada.runs.create(thread_id, "medgraph", input=MESSAGE)
    ada.runs.join(thread_id, run["run_id"])
    return thread_id, run["run_id"]


def test_requests_without_a_key_or_with_a_bad_key_get_401(server, api_keys):
    with pytest.raises(AuthenticationError, match="missing API key"):
        get_sync_client(url=server.url, api_key=None).threads.create()
    for bad in ("not-a-key", api_keys["ada"][:-2] + "xx", "mgk_000000000000_" + "a" * 43):
        with pytest.raises(AuthenticationError, match="invalid"):
            get_sync_client(url=server.url, api_key=bad).assistants.search()
    reply = httpx.post(f"{server.url}/threads", json={})
    assert reply.status_code == 401
    assert reply.json()["error"] == "HTTP401" and reply.json()["request_id"]
    assert reply.headers["www-authenticate"] == "Bearer"
    bearer = httpx.post(
        f"{server.url}/threads", json={}, headers={"Authorization": f"Bearer {api_keys['ada']}"}
    )
    assert bearer.status_code == 200


def test_a_revoked_key_stops_working_without_a_restart(server, server_settings):
    path = server_settings.resolved_server_keys_file
    raw = add_key(path, tenant="acme", user="temp", role="trainee")
    client = get_sync_client(url=server.url, api_key=raw)
    assert client.assistants.search()
    assert revoke_key(path, raw.split("_")[1])
    with pytest.raises(AuthenticationError):
        client.assistants.search()


def test_another_tenant_gets_404_on_every_route_of_a_thread(server, api_keys, acme_thread):
    thread_id, run_id = acme_thread
    eve = get_sync_client(url=server.url, api_key=api_keys["eve"])
    checkpoint_id = get_sync_client(url=server.url, api_key=api_keys["ada"]).threads.get_state(
        thread_id
    )["checkpoint"]["checkpoint_id"]
    attempts = {
        "get": lambda: eve.threads.get(thread_id),
        "state": lambda: eve.threads.get_state(thread_id),
        "state at": lambda: eve.threads.get_state(thread_id, checkpoint_id=checkpoint_id),
        "history": lambda: eve.threads.get_history(thread_id),
        "delete": lambda: eve.threads.delete(thread_id),
        "create run": lambda: eve.runs.create(thread_id, "medgraph", input=MESSAGE),
        "stream": lambda: list(eve.runs.stream(thread_id, "medgraph", input=MESSAGE)),
        "list runs": lambda: eve.runs.list(thread_id),
        "get run": lambda: eve.runs.get(thread_id, run_id),
        "cancel": lambda: eve.runs.cancel(thread_id, run_id),
        "join stream": lambda: list(eve.runs.join_stream(thread_id, run_id)),
    }
    for name, attempt in attempts.items():
        with pytest.raises(NotFoundError):
            attempt()
            pytest.fail(f"{name} did not refuse")
    for path in (f"/threads/{thread_id}/runs/{run_id}/join", f"/threads/{thread_id}/runs/wait"):
        method = "GET" if path.endswith("join") else "POST"
        reply = httpx.request(
            method,
            f"{server.url}{path}",
            json=None if method == "GET" else {"assistant_id": "medgraph", "input": MESSAGE},
            headers={"x-api-key": api_keys["eve"]},
        )
        assert reply.status_code == 404 and thread_id in reply.json()["detail"]
    assert thread_id not in [t["thread_id"] for t in eve.threads.search(limit=1000)]


def test_the_same_thread_id_in_two_tenants_is_two_separate_threads(server, api_keys, acme_thread):
    thread_id, _ = acme_thread
    ada = get_sync_client(url=server.url, api_key=api_keys["ada"])
    eve = get_sync_client(url=server.url, api_key=api_keys["eve"])
    before = ada.threads.get_state(thread_id)["values"]
    mine = eve.threads.create(thread_id=thread_id, metadata={"owner": "globex"})
    assert mine["thread_id"] == thread_id and mine["values"] == {}
    values = eve.runs.wait(thread_id, "medgraph", input=MESSAGE)
    assert len(values["messages"]) == 2
    assert ada.threads.get_state(thread_id)["values"] == before
    assert ada.threads.get(thread_id)["metadata"]["owner"] == "acme"
    assert eve.threads.get(thread_id)["metadata"]["owner"] == "globex"


def test_users_of_one_tenant_share_its_threads_whatever_their_role(server, api_keys, acme_thread):
    thread_id, _ = acme_thread
    tom = get_sync_client(url=server.url, api_key=api_keys["tom"])
    assert tom.threads.get(thread_id)["metadata"]["owner"] == "acme"
    values = tom.runs.wait(thread_id, "medgraph", input=MESSAGE)
    assert len(values["messages"]) == 4
    assert tom.threads.get_state(thread_id)["metadata"]["user_role"] == "trainee"


def test_uploads_are_private_to_their_tenant(server, api_keys, tiny_png):
    reply = httpx.post(
        f"{server.url}/attachments",
        files={"file": ("cxr.png", tiny_png, "image/png")},
        data={"kind": "image"},
        headers={"x-api-key": api_keys["ada"]},
    )
    assert reply.status_code == 200, reply.text
    upload_id = reply.json()["upload_id"]
    eve = get_sync_client(url=server.url, api_key=api_keys["eve"])
    thread_id = eve.threads.create()["thread_id"]
    with pytest.raises(NotFoundError, match="upload"):
        eve.runs.create(
            thread_id, "medgraph", input={**MESSAGE, "attachments": [{"upload_id": upload_id}]}
        )
