"""The embedded OpenAI-compatible endpoint, driven by the real openai and instructor clients."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Literal

import httpx
import instructor
import pytest
from openai import OpenAI
from pydantic import BaseModel, Field

from app.model_server import EmbeddedModelServer
from tools.llm.engine import LocalLLM

QUESTION = [{"role": "user", "content": "Name the largest organ of the human body."}]


class Triage(BaseModel):
    urgency: Literal["routine", "urgent", "emergency"]
    reason: str = Field(max_length=40)


@pytest.fixture(scope="module")
def server(local_llm: LocalLLM) -> Iterator[EmbeddedModelServer]:
    with EmbeddedModelServer(local_llm) as running:
        yield running


@pytest.fixture(scope="module")
def client(server: EmbeddedModelServer) -> OpenAI:
    return OpenAI(base_url=server.base_url, api_key="not-needed", max_retries=0)


def test_server_listens_on_a_free_loopback_port(server: EmbeddedModelServer):
    assert server.base_url.startswith("http://127.0.0.1:")
    assert server.base_url.endswith("/v1")
    assert server.port > 0


def test_models_lists_the_served_model(client: OpenAI):
    assert [m.id for m in client.models.list()] == ["gemma-3-270m"]


def test_completion_returns_real_tokens_and_usage(client: OpenAI):
    reply = client.chat.completions.create(model="gemma-3-270m", messages=QUESTION, max_tokens=6)
    choice = reply.choices[0]
    assert choice.message.role == "assistant"
    assert choice.message.content
    assert choice.finish_reason in ("stop", "length")
    assert reply.usage is not None
    assert 1 <= reply.usage.completion_tokens <= 6
    assert reply.usage.total_tokens == reply.usage.prompt_tokens + reply.usage.completion_tokens


def test_streaming_deltas_match_the_non_streaming_text(client: OpenAI):
    kwargs = {"model": "gemma-3-270m", "messages": QUESTION, "max_completion_tokens": 6}
    whole = client.chat.completions.create(**kwargs).choices[0].message.content
    chunks = list(
        client.chat.completions.create(
            **kwargs, stream=True, stream_options={"include_usage": True}
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == whole
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] in ("stop", "length")
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens >= 1


def test_raw_stream_is_sse_ending_with_done(server: EmbeddedModelServer):
    body = {"messages": QUESTION, "max_tokens": 3, "stream": True}
    with httpx.stream("POST", f"{server.base_url}/chat/completions", json=body) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        lines = [line for line in response.iter_lines() if line.startswith("data: ")]
    assert lines[-1] == "data: [DONE]"
    assert json.loads(lines[0][6:])["object"] == "chat.completion.chunk"


def test_instructor_gets_a_schema_valid_object(client: OpenAI):
    structured = instructor.from_openai(client, mode=instructor.Mode.JSON_SCHEMA)
    triage = structured.chat.completions.create(
        model="gemma-3-270m",
        response_model=Triage,
        messages=[{"role": "user", "content": "Chest pain and shortness of breath. Triage it."}],
        max_tokens=40,
        max_retries=0,
    )
    assert isinstance(triage, Triage)
    assert len(triage.reason) <= 40


def test_json_object_response_format_returns_a_json_object(client: OpenAI):
    reply = client.chat.completions.create(
        model="gemma-3-270m",
        messages=QUESTION,
        max_tokens=20,
        response_format={"type": "json_object"},
    )
    assert isinstance(json.loads(reply.choices[0].message.content or ""), dict)


def test_stop_sequence_is_honoured(client: OpenAI):
    full = client.chat.completions.create(model="m", messages=QUESTION, max_tokens=8)
    text = full.choices[0].message.content or ""
    stop = text.strip()[1:3]
    cut = client.chat.completions.create(model="m", messages=QUESTION, max_tokens=8, stop=[stop])
    assert cut.choices[0].message.content == text[: text.index(stop)]
    assert cut.choices[0].finish_reason == "stop"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"messages": []}, "at least one message"),
        ({"messages": [{"role": "wizard", "content": "hi"}]}, "'wizard' is not supported"),
        ({"messages": QUESTION, "max_tokens": 0}, "max_tokens must be between 1"),
        ({"messages": QUESTION, "max_completion_tokens": 10**6}, "max_completion_tokens must"),
        ({"messages": QUESTION, "temperature": 5}, "temperature"),
        ({"messages": QUESTION, "n": 2}, "only n=1"),
        ({"model": "x"}, "messages"),
        ({"messages": QUESTION, "response_format": {"type": "json_schema"}}, "schema is required"),
    ],
)
def test_bad_requests_get_openai_style_400_errors(server: EmbeddedModelServer, body, message):
    response = httpx.post(f"{server.base_url}/chat/completions", json=body)
    assert response.status_code == 400
    error = response.json()["error"]
    assert message in error["message"]
    assert error["type"] == "invalid_request_error"


def test_openai_client_raises_bad_request_for_invalid_parameters(client: OpenAI):
    from openai import BadRequestError

    with pytest.raises(BadRequestError, match="max_tokens"):
        client.chat.completions.create(model="m", messages=QUESTION, max_tokens=0)
