"""The audit trail: hash chain, tamper detection, append-only tables, fail-closed writes."""

from __future__ import annotations

import io
import json
import logging
import multiprocessing
import sqlite3
from pathlib import Path

import psycopg
import pytest

from state.audit import AuditEvent, open_audit, prompt_digest
from state.errors import AuditUnavailable, ConfigError

EVENT_TYPES = ["route", "model_call", "tool_call", "guard", "interrupt", "approval", "error"]


def event(i: int, thread: str = "th-1", event_type: str = "route") -> AuditEvent:
    return AuditEvent(
        event_type=event_type,
        tenant="tenant-a",
        user="user-1",
        thread=thread,
        run=f"run-{i // 8}",
        node="supervisor",
        payload={"i": i, "intent": "radiology", "prompt": prompt_digest(f"prompt {i}")},
    )


@pytest.fixture(
    params=[pytest.param("postgres", marks=pytest.mark.services), "sqlite"],
)
def audit_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "postgres":
        return request.getfixturevalue("pg_schema_url")
    return f"sqlite:///{tmp_path / 'audit' / 'audit.sqlite'}"


def tamper(url: str, sql: str) -> None:
    """Change rows behind the trail's back, the way a superuser could."""
    if url.startswith("sqlite"):
        conn = sqlite3.connect(url[len("sqlite:///") :], isolation_level=None)
        conn.execute("DROP TRIGGER audit_log_no_update")
        conn.execute("DROP TRIGGER audit_log_no_delete")
        conn.execute(sql)
        conn.close()
        return
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("ALTER TABLE audit_log DISABLE TRIGGER USER")
        conn.execute(sql)
        conn.execute("ALTER TABLE audit_log ENABLE TRIGGER USER")


def test_chain_of_every_event_type_verifies(audit_url):
    with open_audit(audit_url) as audit:
        for i, kind in enumerate(EVENT_TYPES * 3):
            audit.record(event(i, thread=f"th-{i % 2}", event_type=kind))
        audit.flush()
        result = audit.verify()
        assert result.ok and result.rows_checked == 21
        tail = audit.tail(3)
        assert [r.id for r in tail] == [19, 20, 21]
        assert tail[0].prev_hash != tail[1].prev_hash
        assert tail[1].prev_hash == tail[0].hash
        assert {r.thread for r in audit.for_thread("th-1")} == {"th-1"}
        assert len(audit.for_thread("th-1")) == 10
        buffer = io.StringIO()
        assert audit.export_jsonl(buffer) == 21
    lines = [json.loads(line) for line in buffer.getvalue().splitlines()]
    assert lines[0]["prev_hash"] == "0" * 64
    assert lines[3]["event_type"] == "guard"
    assert lines[0]["payload"]["prompt"].startswith("sha256:")


def test_chain_continues_across_reopen_and_unbatched_writes(audit_url):
    with open_audit(audit_url) as audit:
        audit.record(event(0))
    with open_audit(audit_url, batch=False) as audit:
        audit.record(event(1))
        assert audit.tail(5)[-1].id == 2
        assert audit.verify().ok


def test_tampered_payload_is_detected_at_its_row(audit_url):
    with open_audit(audit_url) as audit:
        audit.record_many(event(i) for i in range(10))
    tamper(audit_url, "UPDATE audit_log SET payload = '{\"i\":999}' WHERE id = 6")
    with open_audit(audit_url) as audit:
        result = audit.verify()
    assert not result.ok
    assert result.first_broken_id == 6
    assert "changed" in (result.reason or "")


def test_deleted_row_is_detected_at_the_gap(audit_url):
    with open_audit(audit_url) as audit:
        audit.record_many(event(i) for i in range(6))
    tamper(audit_url, "DELETE FROM audit_log WHERE id = 3")
    with open_audit(audit_url) as audit:
        result = audit.verify()
    assert (result.ok, result.first_broken_id) == (False, 4)


@pytest.mark.services
@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE audit_log SET payload = '{}' WHERE id = 1",
        "DELETE FROM audit_log WHERE id = 1",
        "TRUNCATE audit_log",
    ],
)
def test_postgres_refuses_update_delete_and_truncate(pg_schema_url, sql):
    with open_audit(pg_schema_url) as audit:
        audit.record(event(0))
    with psycopg.connect(pg_schema_url, autocommit=True) as conn:
        with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
            conn.execute(sql)
        assert conn.execute("SELECT count(*) FROM audit_log").fetchone() == (1,)


def test_sqlite_refuses_update_and_delete(tmp_path):
    url = f"sqlite:///{tmp_path / 'audit.sqlite'}"
    with open_audit(url) as audit:
        audit.record(event(0))
    conn = sqlite3.connect(tmp_path / "audit.sqlite")
    for sql in ("UPDATE audit_log SET node = 'x'", "DELETE FROM audit_log"):
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            conn.execute(sql)
    conn.close()


def _append_from_process(url: str, worker: int, n: int) -> None:
    with open_audit(url) as audit:
        for i in range(n):
            audit.record(event(i, thread=f"worker-{worker}"))
            if i % 7 == 0:
                audit.flush()


def test_concurrent_processes_keep_one_valid_chain(audit_url):
    with open_audit(audit_url):
        pass  # create the table once, as a deployment migration would
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_append_from_process, args=(audit_url, w, 40)) for w in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    with open_audit(audit_url) as audit:
        result = audit.verify()
        assert result.ok, result
        assert result.rows_checked == 160
        assert len(audit.for_thread("worker-2")) == 40


def test_unreachable_audit_fails_closed_by_default():
    with pytest.raises(AuditUnavailable, match=r"127\.0\.0\.1:1"):
        open_audit("postgresql://postgres:s3cret@127.0.0.1:1/test", timeout_s=1)


def test_unreachable_audit_fail_open_warns_and_never_raises(caplog):
    caplog.set_level(logging.WARNING, logger="state.audit")
    audit = open_audit("postgresql://postgres@127.0.0.1:1/test", fail_open=True, timeout_s=1)
    audit.record(event(0))
    audit.flush(timeout_s=10)
    audit.close()
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert any("fail-open" in w for w in warnings)
    assert not any("radiology" in w for w in warnings), "payload leaked into logs"


@pytest.mark.services
def test_store_failure_mid_turn_raises_then_recovers_without_losing_events(pg_schema_url):
    audit = open_audit(pg_schema_url, timeout_s=2)
    audit.record(event(0))
    audit.flush()
    with psycopg.connect(pg_schema_url, autocommit=True) as conn:
        conn.execute("ALTER TABLE audit_log RENAME TO audit_log_away")
    audit.record(event(1))
    with pytest.raises(AuditUnavailable, match="audit_log"):
        audit.flush()
    with pytest.raises(AuditUnavailable):
        audit.record(event(2))
    with psycopg.connect(pg_schema_url, autocommit=True) as conn:
        conn.execute("ALTER TABLE audit_log_away RENAME TO audit_log")
    audit.flush()
    assert [r.payload["i"] for r in audit.tail(10)] == [0, 1, 2]
    assert audit.verify().ok
    audit.close()


def test_unbatched_fail_closed_raises_on_record(tmp_path):
    url = f"sqlite:///{tmp_path / 'audit.sqlite'}"
    audit = open_audit(url, batch=False)
    audit.record(event(0))
    conn = sqlite3.connect(tmp_path / "audit.sqlite")
    conn.execute("ALTER TABLE audit_log RENAME TO moved")
    conn.commit()
    with pytest.raises(AuditUnavailable):
        audit.record(event(1))
    conn.execute("ALTER TABLE moved RENAME TO audit_log")
    conn.commit()
    conn.close()
    audit.close()
    with open_audit(url) as reopened:
        assert [r.id for r in reopened.tail(5)] == [1, 2]


@pytest.mark.parametrize("url", ["", "mysql://x/y", "sqlite://rel.db", "audit.sqlite"])
def test_bad_audit_urls_are_config_errors(url):
    with pytest.raises(ConfigError):
        open_audit(url)


def test_bad_table_name_is_config_error(tmp_path):
    with pytest.raises(ConfigError):
        open_audit(f"sqlite:///{tmp_path / 'a.sqlite'}", table="audit; DROP TABLE x")


def test_prompt_digest_is_sha256_and_hides_the_text():
    digest = prompt_digest("patient John Smith MRN 123")
    assert digest.startswith("sha256:") and len(digest) == 7 + 64
    assert "John" not in digest


def test_payload_that_is_not_json_is_refused_at_record_time():
    with pytest.raises(ValueError, match="plain JSON"):
        AuditEvent(
            event_type="tool_call", tenant="t", user="u", thread="x", payload={"o": object()}
        )
