"""`guarded` around real model clients: a SPY endpoint proves no PHI value reaches a request.

The clients are the real ones `app.models` builds (langchain-openai and instructor), pointed at
a recording OpenAI-compatible server on loopback.
"""

from __future__ import annotations

import pytest
from instructor.core.exceptions import InstructorRetryException
from langchain_core.messages import HumanMessage, SystemMessage, ToolMessage
from pydantic import BaseModel

from agents.model_access import InstructorCaller, ModelAccess, StructuredOutputFailed
from app.models import build_model_access
from state.errors import GuardBlocked
from state.schema import PhiVault
from tests.scripted import scripted_access
from tests.tools.guards.spy_endpoint import spy_endpoint
from tools.guards.phi import PhiRedactor
from tools.guards.wrapper import ModelCallGuard, guarded

PHI_VALUES = ["Jane Doe", "00998877", "555-201-3344", "jane@example.org", "03/04/1950"]
CHUNK = "Discharge letter for Jane Doe, MRN 00998877, DOB 03/04/1950: cough resolved."
TOOL = "lookup result: contact 555-201-3344 or jane@example.org"


class Answer(BaseModel):
    summary: str


def access_for(settings, base_url):
    return build_model_access(settings, base_url)


def test_no_phi_value_reaches_the_model_request_from_chunks_or_tool_output(settings):
    with spy_endpoint(["Summary for <PERSON_1>: cough resolved."]) as (spy, url):
        access = access_for(settings, url)
        text = access.complete(
            "composer",
            [
                SystemMessage(f"Answer from this excerpt: {CHUNK}"),
                ToolMessage(TOOL, tool_call_id="t1"),
                HumanMessage("Summarise the letter for <PERSON_1>"),
            ],
            max_tokens=40,
        )
    assert text == "Summary for <PERSON_1>: cough resolved."
    body = " ".join(spy.requests)
    assert spy.requests and all(value not in body for value in PHI_VALUES)
    assert "<PERSON_2>" in body  # numbered after the thread's own <PERSON_1>


def test_structured_call_is_screened_and_a_leaking_output_is_a_typed_failure(settings):
    with spy_endpoint(['{"summary": "call 555-777-1212"}']) as (spy, url):
        access = access_for(settings, url)
        with pytest.raises(StructuredOutputFailed, match="PII leakage"):
            access.structured("router", Answer, [HumanMessage(f"summarise: {CHUNK}")])
    assert all(value not in " ".join(spy.requests) for value in PHI_VALUES)


def test_text_output_leak_is_scrubbed(settings):
    with spy_endpoint(["Her number is 555-777-1212."]) as (_, url):
        text = access_for(settings, url).complete("composer", [HumanMessage("hi")], max_tokens=9)
    assert text == "Her number is [REDACTED PHONE]."


class RetryingClient:
    """A SCRIPTED instructor client whose re-asks are exhausted."""

    class chat:
        class completions:
            @staticmethod
            def create_with_completion(**kwargs):
                assert kwargs["max_retries"] == 2
                raise InstructorRetryException(
                    "no valid object", n_attempts=3, total_usage=0, last_completion=None
                )


def test_schema_reasks_end_in_a_typed_failure_and_the_caller_falls_back():
    caller = InstructorCaller({"router": RetryingClient()}, {"router": "m"}, max_reasks=2)
    access = scripted_access()
    access._structured = caller
    with pytest.raises(StructuredOutputFailed, match="after 2 re-asks"):
        access.structured("router", Answer, [HumanMessage("route this")])


def test_a_redactor_fault_refuses_the_call_before_it_is_made():
    class Faulty(PhiRedactor):
        def redact(self, text, vault):
            raise RuntimeError("boom")

    calls: list[list[str]] = []
    with pytest.raises(GuardBlocked, match="PHI check failed"):
        guarded(ModelCallGuard(Faulty()), "embedder", ["MRN 1234567"], calls.append)
    assert calls == []


def test_model_access_without_a_guard_still_redacts(settings):
    with spy_endpoint(["fine"]) as (spy, url):
        access = access_for(settings, url)
        assert isinstance(access, ModelAccess)
        access.complete("composer", [HumanMessage("MRN 00998877 please")], max_tokens=5)
    assert "00998877" not in spy.requests[0] and "<MRN_1>" in spy.requests[0]


def test_call_local_vault_never_leaks_into_the_thread_vault():
    guard = ModelCallGuard(PhiRedactor())
    thread_vault = PhiVault()
    screen = guard.screen_request("composer", ["Jane Doe, MRN 00998877"])
    assert thread_vault.entries == {} and screen.vault.entries
