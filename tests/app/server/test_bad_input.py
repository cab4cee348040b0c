"""Bad input gets a proper status and a JSON error body; attachments are checked and stored.

Raw HTTP (httpx) where the sdk would not send such a request. Shared test server: scripted
model endpoint, body limit 2 MiB, attachment limit 1 MiB.
"""

from __future__ import annotations

import base64

import httpx
import pytest
from langgraph_sdk import get_sync_client

from tests.app.server.conftest import MAX_ATTACHMENT_BYTES, MAX_BODY_BYTES

pytestmark = pytest.mark.services

TEXT = "hello, good morning from thread ex turn 1"


@pytest.fixture
def call(server, api_keys):
    def send(method: str, path: str, **kwargs) -> httpx.Response:
        headers = {"x-api-key": api_keys["ada"], **kwargs.pop("headers", {})}
        return httpx.request(method, f"{server.url}{path}", headers=headers, timeout=60, **kwargs)

    return send


@pytest.fixture
def thread_id(call) -> str:
    return call("POST", "/threads", json={}).json()["thread_id"]


def run_body(content: object = TEXT, **extra: object) -> dict:
    return {
        "assistant_id": "medgraph",
        "input": {"messages": [{"role": "user", "content": content}], **extra},
    }


def error_of(reply: httpx.Response, status: int) -> dict:
    assert reply.status_code == status, reply.text
    body = reply.json()
    assert body["detail"] and body["error"] and body["request_id"] == reply.headers["x-request-id"]
    return body


def test_malformed_json_is_400(call, thread_id):
    reply = call(
        "POST",
        f"/threads/{thread_id}/runs/wait",
        content=b'{"assistant_id": "medgraph", "input": ',
        headers={"Content-Type": "application/json"},
    )
    assert error_of(reply, 400)["detail"] == "the request body is not valid JSON"


def test_wrong_content_types_are_415(call, thread_id, tiny_png):
    as_text = call("POST", "/threads", content=b"{}", headers={"Content-Type": "text/plain"})
    assert "application/json" in error_of(as_text, 415)["detail"]
    json_upload = call("POST", "/attachments", json={"file": "x"})
    assert "multipart" in error_of(json_upload, 415)["detail"]


def test_oversized_bodies_are_413_declared_or_chunked(call, thread_id):
    huge = b"x" * (MAX_BODY_BYTES + 1)
    declared = call("POST", "/threads", content=huge, headers={"Content-Type": "application/json"})
    assert error_of(declared, 413)["error"] == "BodyTooLarge"

    def chunks():
        for _ in range(3):
            yield b" " * (MAX_BODY_BYTES // 2)

    chunked = call(
        "POST", "/threads", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert chunked.status_code == 413


def test_unknown_ids_are_404(call, thread_id):
    missing = "00000000-0000-0000-0000-000000000000"
    assert error_of(call("GET", f"/threads/{missing}"), 404)["error"] == "NotFound"
    assert error_of(call("GET", f"/threads/{thread_id}/runs/{missing}"), 404)
    assert error_of(call("GET", f"/threads/{thread_id}/state/{missing}"), 404)
    assert error_of(call("GET", "/threads/bad%20id!"), 404)
    unknown_assistant = {**run_body(), "assistant_id": "nope"}
    assert (
        "assistant"
        in error_of(call("POST", f"/threads/{thread_id}/runs", json=unknown_assistant), 404)[
            "detail"
        ]
    )
    assert error_of(call("POST", f"/threads/{missing}/runs/wait", json=run_body()), 404)
    assert call("GET", "/no/such/route").status_code == 404


@pytest.mark.parametrize(
    ("body", "status", "says"),
    [
        ({"assistant_id": "medgraph", "input": {"messages": []}}, 400, "exactly one"),
        (run_body(""), 400, "empty"),
        (run_body("x" * 20_001), 400, "limit is 20,000"),
        (run_body("hi\x00there"), 400, "control character"),
        (run_body(TEXT, user_id="root"), 400, "set by the server"),
        (
            {"assistant_id": "medgraph", "input": {"messages": [{"role": "ai", "content": "hi"}]}},
            400,
            "only user messages",
        ),
        ({**run_body(), "command": {"resume": 1}}, 422, "exactly one of input or command"),
        ({"assistant_id": "medgraph", "command": {"goto": "x"}}, 422, "goto"),
        ({**run_body(), "stream_mode": ["debug"]}, 422, "stream_mode"),
        ({**run_body(), "webhook": "http://example.org"}, 422, "webhook"),
        ({**run_body(), "interrupt_before": ["no_such_node"]}, 400, "no_such_node"),
        ({"input": {}}, 422, "assistant_id"),
    ],
)
def test_invalid_run_requests_say_what_is_wrong(call, thread_id, body, status, says):
    detail = error_of(call("POST", f"/threads/{thread_id}/runs", json=body), status)["detail"]
    assert says in detail


def test_resume_without_a_pending_interrupt_is_409(call, thread_id):
    body = {"assistant_id": "medgraph", "command": {"resume": {"decision": "approve"}}}
    assert (
        "not waiting"
        in error_of(call("POST", f"/threads/{thread_id}/runs", json=body), 409)["detail"]
    )


def test_thread_requests_with_unsupported_fields_are_422(call):
    assert "ttl" in error_of(call("POST", "/threads", json={"ttl": 5}), 422)["detail"]
    assert error_of(call("POST", "/threads", json={"thread_id": "a b"}), 422)
    assert error_of(call("POST", "/threads/search", json={"limit": 0}), 422)


def test_base64_and_content_block_attachments_are_checked_and_stored(
    server, api_keys, call, thread_id, tiny_png, server_runtime
):
    encoded = base64.b64encode(tiny_png).decode()
    client = get_sync_client(url=server.url, api_key=api_keys["ada"])
    client.runs.wait(
        thread_id,
        "medgraph",
        input={
            "messages": [{"role": "user", "content": TEXT}],
            "attachments": [{"kind": "image", "name": "cxr.png", "data": encoded}],
        },
    )
    blocks = [
        {"type": "text", "text": "hello, good morning from thread ex turn 2"},
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{encoded}"}},
    ]
    client.runs.wait(
        thread_id, "medgraph", input={"messages": [{"role": "user", "content": blocks}]}
    )
    values = client.threads.get_state(thread_id)["values"]
    [attachment] = values["attachments"]
    assert attachment["kind"] == "image" and attachment["size_bytes"] == len(tiny_png)
    stored = server_runtime.settings.data_dir / "attachments" / f"{attachment['sha256']}.png"
    assert stored.read_bytes() == tiny_png
    assert values["messages"][-2]["content"] == "hello, good morning from thread ex turn 2"


@pytest.mark.parametrize(
    ("attachment", "says"),
    [
        ({"kind": "image", "name": "x.png", "data": "%%%not-base64%%%"}, "not valid base64"),
        (
            {"kind": "image", "name": "fake.png", "data": base64.b64encode(b"just text").decode()},
            "decided from its content",
        ),
        (
            {
                "kind": "image",
                "name": "big.png",
                "data": base64.b64encode(
                    b"\x89PNG\r\n\x1a\n" + b"0" * MAX_ATTACHMENT_BYTES
                ).decode(),
            },
            "attachment limit",
        ),
        ({"kind": "video", "name": "x.mp4", "data": "AAAA"}, "kind"),
        ({"upload_id": "never-uploaded"}, "not found"),
    ],
)
def test_bad_attachments_are_refused(call, thread_id, attachment, says):
    reply = call("POST", f"/threads/{thread_id}/runs", json=run_body(attachments=[attachment]))
    assert reply.status_code in (400, 404) and says in reply.json()["detail"], reply.text


def test_remote_image_urls_are_refused(call, thread_id):
    blocks = [
        {"type": "text", "text": TEXT},
        {"type": "image_url", "image_url": {"url": "https://example.org/cxr.png"}},
    ]
    detail = error_of(call("POST", f"/threads/{thread_id}/runs", json=run_body(blocks)), 400)
    assert "fetches nothing remote" in detail["detail"]


def test_multipart_upload_then_run_with_its_id(server, api_keys, call, thread_id, tiny_png):
    reply = call(
        "POST",
        "/attachments",
        files={"file": ("scan.png", tiny_png, "image/png")},
        data={"kind": "image"},
    )
    assert reply.status_code == 200, reply.text
    upload = reply.json()
    assert upload["size_bytes"] == len(tiny_png) and "path" not in upload
    client = get_sync_client(url=server.url, api_key=api_keys["ada"])
    client.runs.wait(
        thread_id,
        "medgraph",
        input={
            "messages": [{"role": "user", "content": TEXT}],
            "attachments": [{"upload_id": upload["upload_id"]}],
        },
    )
    [attachment] = client.threads.get_state(thread_id)["values"]["attachments"]
    assert attachment["sha256"] == upload["sha256"]
    not_an_image = call(
        "POST", "/attachments", files={"file": ("notes.txt", b"plain", "text/plain")}
    )
    assert "decided from its content" in error_of(not_an_image, 400)["detail"]
    too_big = call(
        "POST",
        "/attachments",
        files={
            "file": ("big.png", b"\x89PNG\r\n\x1a\n" + b"0" * MAX_ATTACHMENT_BYTES, "image/png")
        },
    )
    assert error_of(too_big, 413)
