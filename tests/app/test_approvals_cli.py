"""Gated actions from the command line: a chat pauses, /approve carries the action out, and
`medgraph approvals` decides a waiting action from outside the chat (a new runtime; `list` also
in a separate OS process).

Everything is real (router, guards, policy index, checkpointer, audit, outbox) except the chat
model endpoint, a loopback spy that answers "ok": no answer here depends on language quality.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from app.cli import app
from app.settings import get_settings
from state.audit import open_audit
from tests.tools.guards.spy_endpoint import spy_endpoint

runner = CliRunner()
PHI_MESSAGE = "Hello, I am seeing John Smith, MRN 00123456, in clinic today."
REQUEST_ID = re.compile(r"apr-[0-9a-f]{10}")


@pytest.fixture(scope="module")
def rag_uri(tmp_path_factory: pytest.TempPathFactory) -> str:
    """One chunk store for the module, so the policy corpus is indexed once, not per runtime."""
    return str(tmp_path_factory.mktemp("rag") / "rag.db")


@pytest.fixture
def cli_env(settings, monkeypatch, rag_uri):
    with spy_endpoint(["ok"] * 50) as (_, url):
        monkeypatch.setenv("MEDGRAPH_RAG_URI", rag_uri)
        monkeypatch.setenv("MEDGRAPH_MODEL_BASE_URL", url)
        monkeypatch.setenv("MEDGRAPH_USER_ID", "ada")
        yield monkeypatch


def as_role(monkeypatch, role: str) -> None:
    monkeypatch.setenv("MEDGRAPH_USER_ROLE", role)
    get_settings.cache_clear()


def invoke(args: list[str], lines: list[str] | None = None):
    text = "\n".join(lines) + "\n" if lines is not None else None
    return runner.invoke(app, args, input=text, env={"COLUMNS": "200"})


def test_chat_pauses_an_export_and_approve_writes_it_once_with_an_audit_trail(cli_env) -> None:
    as_role(cli_env, "admin")
    lines = [
        PHI_MESSAGE,
        "/action export_thread",
        "hello again",
        "/approve minimum necessary for the audit",
        "/approve",
        "/action frobnicate",
        "/quit",
    ]
    result = invoke(["chat", "--thread", "ward-a"], lines)
    out = result.output
    assert result.exit_code == 0, out
    assert "→ policy" in out
    assert "Approval needed" in out and "export_thread requested by ada (admin)" in out
    assert "[POL-SHARE-3.2]" in out and "Approver role: admin" in out
    assert "this thread is waiting for approval" in out
    assert "/approve [note] or /reject [reason]" in out
    assert "redacted messages were exported" in out and "Approved by ada (admin)" in out
    assert "nothing is waiting for approval" in out
    assert "unknown action 'frobnicate'" in out
    settings = get_settings()
    [export] = (settings.resolved_outbox_dir / "exports" / settings.tenant_id).iterdir()
    lines_out = [json.loads(x) for x in export.read_text().splitlines()]
    assert "John Smith" not in export.read_text() and "00123456" not in export.read_text()
    assert any("<PERSON_1>" in line.get("text", "") for line in lines_out)
    with open_audit(settings.resolved_audit_url, batch=False) as audit:
        rows = audit.for_thread("ward-a")
    events = [(r.event_type, r.payload.get("tool")) for r in rows if r.payload.get("request_id")]
    assert events == [
        ("tool_call", "policy_evaluate"),
        ("interrupt", None),
        ("approval", None),
        ("tool_call", "export_thread"),
    ]
    assert "John Smith" not in json.dumps([r.payload for r in rows])


def test_approvals_cli_lists_refuses_the_wrong_role_and_approves_once(cli_env) -> None:
    as_role(cli_env, "clinician")
    paused = invoke(["chat", "--thread", "ward-b"], [PHI_MESSAGE, "Export this thread.", "/quit"])
    assert paused.exit_code == 0 and "Approval needed" in paused.output, paused.output
    listed = invoke(["approvals", "list"])
    assert listed.exit_code == 0 and "ward-b" in listed.output, listed.output
    [request_id] = set(REQUEST_ID.findall(listed.output))
    other_process = subprocess.run(
        [sys.executable, "-m", "app.cli", "approvals", "list"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert other_process.returncode == 0, other_process.stderr
    assert request_id in other_process.stdout
    as_role(cli_env, "trainee")
    refused = invoke(["approvals", "approve", request_id])
    assert refused.exit_code == 8, refused.output
    assert "it needs an approver with the role admin" in refused.output
    as_role(cli_env, "admin")
    approved = invoke(["approvals", "approve", request_id, "--note", "for the M&M meeting"])
    assert approved.exit_code == 0, approved.output
    assert "Done:" in approved.output and "Approved by ada (admin)" in approved.output
    again = invoke(["approvals", "approve", request_id])
    assert again.exit_code == 2 and "is waiting" in again.output
    assert invoke(["approvals", "list"]).output.strip() == "No approvals are waiting."
