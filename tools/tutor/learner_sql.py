"""SQL of the tutor's learner store: tables for learner state, answer events and fitted BKT params.

Statements carry `{p}` where the driver's placeholder goes (`?` for SQLite, `%s` for psycopg)
and `{t}` for the table-name prefix.
"""

from __future__ import annotations

SQLITE_SCHEMA = """
CREATE TABLE IF NOT EXISTS {t}_learners (
    tenant_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    state TEXT NOT NULL,
    updated TEXT NOT NULL,
    PRIMARY KEY (tenant_id, user_id)
);
CREATE TABLE IF NOT EXISTS {t}_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    ts TEXT NOT NULL,
    event TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS {t}_events_learner ON {t}_events (tenant_id, user_id, id);
CREATE TABLE IF NOT EXISTS {t}_params (
    concept_id TEXT PRIMARY KEY,
    params TEXT NOT NULL,
    fitted_at TEXT NOT NULL
);
"""

POSTGRES_SCHEMA = """
CREATE TABLE IF NOT EXISTS {t}_learners (
    tenant_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    state TEXT NOT NULL,
    updated TEXT NOT NULL,
    PRIMARY KEY (tenant_id, user_id)
);
CREATE TABLE IF NOT EXISTS {t}_events (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    ts TEXT NOT NULL,
    event TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS {t}_events_learner ON {t}_events (tenant_id, user_id, id);
CREATE TABLE IF NOT EXISTS {t}_params (
    concept_id TEXT PRIMARY KEY,
    params TEXT NOT NULL,
    fitted_at TEXT NOT NULL
);
"""

# Both SQLite (≥ 3.24) and Postgres accept this upsert.
UPSERT_LEARNER = (
    "INSERT INTO {t}_learners (tenant_id, user_id, state, updated) VALUES ({p}, {p}, {p}, {p}) "
    "ON CONFLICT (tenant_id, user_id) DO UPDATE SET state = excluded.state, "
    "updated = excluded.updated"
)
SELECT_LEARNER = "SELECT state FROM {t}_learners WHERE tenant_id = {p} AND user_id = {p}"
INSERT_EVENT = "INSERT INTO {t}_events (tenant_id, user_id, ts, event) VALUES ({p}, {p}, {p}, {p})"
SELECT_EVENTS = "SELECT event FROM {t}_events ORDER BY id"
SELECT_LEARNER_EVENTS = (
    "SELECT event FROM {t}_events WHERE tenant_id = {p} AND user_id = {p} ORDER BY id"
)
UPSERT_PARAMS = (
    "INSERT INTO {t}_params (concept_id, params, fitted_at) VALUES ({p}, {p}, {p}) "
    "ON CONFLICT (concept_id) DO UPDATE SET params = excluded.params, "
    "fitted_at = excluded.fitted_at"
)
SELECT_PARAMS = "SELECT concept_id, params FROM {t}_params ORDER BY concept_id"
DELETE_LEARNER = "DELETE FROM {t}_learners WHERE user_id = {p}"
DELETE_EVENTS = "DELETE FROM {t}_events WHERE user_id = {p}"
DELETE_LEARNER_IN_TENANT = "DELETE FROM {t}_learners WHERE user_id = {p} AND tenant_id = {p}"
DELETE_EVENTS_IN_TENANT = "DELETE FROM {t}_events WHERE user_id = {p} AND tenant_id = {p}"
