"""Audit events of real turns: routes and model calls land in the hash chain, without text.

Uses SCRIPTED models and a SCRIPTED classifier (tests/scripted.py) with REAL audit stores
(SQLite, and PostgreSQL on 127.0.0.1).
"""

from __future__ import annotations

import sqlite3
import uuid

import psycopg
import pytest
from langgraph.checkpoint.sqlite import SqliteSaver

from agents.general import GeneralAgent
from agents.registry import AgentRegistry
from agents.supervisor import RoutingThresholds, SupervisorRouter
from graphs.audit_hooks import GraphAuditor
from graphs.supervisor import build_supervisor_graph
from graphs.turns import stream_turn
from state.audit import open_audit
from state.errors import AuditUnavailable
from tests.scripted import ScriptedClassifier, ScriptedPrediction, scripted_access

PHI_MESSAGE = "hello, I am John Smith, MRN 00123456, born 1950-02-03"


def run_turn(tmp_path, audit, text=PHI_MESSAGE, thread="th-audit"):
    auditor = GraphAuditor(audit)
    access = scripted_access(["Hello there."], observer=auditor.model_call)
    registry = AgentRegistry()
    registry.register(GeneralAgent(access, registry.installed))
    router = SupervisorRouter(
        ScriptedClassifier({text: ScriptedPrediction("general", 0.95)}),
        RoutingThresholds(0.85, 0.65, 0.03),
        None,
    )
    with SqliteSaver.from_conn_string(str(tmp_path / "cp.sqlite")) as saver:
        graph = build_supervisor_graph(router, registry, auditor).compile(checkpointer=saver)
        return list(
            stream_turn(
                graph,
                thread_id=thread,
                text=text,
                user_id="dr-u",
                tenant_id="ward-7",
                auditor=auditor,
            )
        )


def assert_turn_audited(records):
    by_type = {r.event_type: r for r in records}
    assert set(by_type) == {"route", "model_call"}
    route = by_type["route"]
    assert (route.tenant, route.user, route.thread) == ("ward-7", "dr-u", "th-audit")
    assert route.node == "supervisor"
    assert route.payload["intents"] == ["general"] and route.payload["confidence"] == 0.95
    call = by_type["model_call"]
    assert call.node == "general"
    assert call.payload["role"] == "composer" and call.payload["outcome"] == "ok"
    assert len(call.payload["prompt_sha256"]) == 64
    assert route.run == call.run and route.run is not None
    dump = " ".join(r.model_dump_json() for r in records)
    for value in ("John", "Smith", "00123456", "1950-02-03"):
        assert value not in dump


def test_turn_writes_route_and_model_call_events_to_sqlite_chain(tmp_path):
    with open_audit(f"sqlite:///{tmp_path / 'audit.sqlite'}") as audit:
        run_turn(tmp_path, audit)
        assert_turn_audited(audit.for_thread("th-audit"))
        assert audit.verify().ok


@pytest.mark.services
def test_turn_writes_route_and_model_call_events_to_postgres_chain(tmp_path, postgres_url):
    table = f"audit_test_{uuid.uuid4().hex[:8]}"
    try:
        with open_audit(postgres_url, table=table) as audit:
            run_turn(tmp_path, audit)
            assert_turn_audited(audit.for_thread("th-audit"))
            assert audit.verify().ok
    finally:
        with psycopg.connect(postgres_url, autocommit=True) as conn:
            conn.execute(f"DROP TABLE IF EXISTS {table} CASCADE")


def test_turn_fails_closed_while_the_audit_store_is_locked_then_recovers(tmp_path):
    audit_file = tmp_path / "audit.sqlite"
    with open_audit(f"sqlite:///{audit_file}", timeout_s=0.3) as audit:
        run_turn(tmp_path, audit, thread="first")
        blocker = sqlite3.connect(audit_file, isolation_level=None)
        blocker.execute("BEGIN EXCLUSIVE")
        try:
            with pytest.raises(AuditUnavailable):
                run_turn(tmp_path, audit, thread="second")
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()
        audit.flush()
        second = audit.for_thread("second")
        assert {r.event_type for r in second} == {"route", "model_call"}
        assert audit.verify().ok
