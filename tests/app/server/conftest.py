"""Shared server fixtures: one runtime and one real server on loopback per test session.

The graph runs against a scripted OpenAI-compatible endpoint (`ScriptedEndpoint`, which echoes
each message) because these tests check the server's flows, not language quality. Everything
else is real: MiniLM routing, the guards, Redis checkpoints and run store, the Postgres audit.
"""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from PIL import Image

from app.runtime import Runtime
from app.server.app import create_app
from app.server.keys import add_key
from app.settings import Settings
from tests.app.server.harness import ServerThread
from tests.app.server.scripted_endpoint import ScriptedEndpoint
from tests.conftest import POSTGRES_URL, REDIS_URL, _port_open, require_service

SESSION = uuid.uuid4().hex[:8]
MAX_BODY_BYTES = 2 * 1024 * 1024
MAX_ATTACHMENT_BYTES = 1024 * 1024
USERS: dict[str, tuple[str, str, str]] = {
    "ada": ("acme", "ada", "clinician"),
    "tom": ("acme", "tom", "trainee"),
    "root": ("acme", "root", "admin"),
    "eve": ("globex", "eve", "clinician"),
}


def server_settings_for(data_dir: Path, model_url: str, prefix: str) -> Settings:
    """Settings of a test server: Redis DB 15, the test Postgres, small body limits."""
    return Settings(
        _env_file=None,
        data_dir=data_dir,
        model_base_url=model_url,
        checkpoint_url=REDIS_URL,
        audit_url=POSTGRES_URL,
        server_redis_prefix=prefix,
        server_worker_lease_s=2.0,
        server_max_body_bytes=MAX_BODY_BYTES,
        server_max_attachment_bytes=MAX_ATTACHMENT_BYTES,
        server_shutdown_grace_s=5.0,
    )


def store_prefix(kind: str) -> str:
    """A Redis prefix for one server's store, removed at the end of this test session."""
    return f"test-srv-{SESSION}-{kind}-{uuid.uuid4().hex[:6]}"


@pytest.fixture(scope="session", autouse=True)
def _remove_store_keys() -> Iterator[None]:
    yield
    if not _port_open("127.0.0.1", 6379):
        return
    client = redis.Redis.from_url(REDIS_URL)
    try:
        stale = list(client.scan_iter(match=f"test-srv-{SESSION}-*", count=1000))
        for start in range(0, len(stale), 500):
            client.delete(*stale[start : start + 500])
    finally:
        client.close()


@pytest.fixture(scope="session")
def scripted_endpoint() -> Iterator[ScriptedEndpoint]:
    with ScriptedEndpoint(chunks=4) as endpoint:
        yield endpoint


@pytest.fixture(scope="session")
def server_settings(tmp_path_factory: pytest.TempPathFactory, scripted_endpoint) -> Settings:
    require_service("Redis", 6379)
    require_service("PostgreSQL", 5432)
    return server_settings_for(
        tmp_path_factory.mktemp("server"),
        scripted_endpoint.base_url,
        store_prefix("shared"),
    )


@pytest.fixture(scope="session")
def api_keys(server_settings: Settings) -> dict[str, str]:
    """Raw API keys by user name (see `USERS`)."""
    return {
        name: add_key(server_settings.resolved_server_keys_file, tenant=t, user=u, role=r)  # type: ignore[arg-type]
        for name, (t, u, r) in USERS.items()
    }


@pytest.fixture(scope="session")
def server_runtime(server_settings: Settings) -> Iterator[Runtime]:
    with Runtime(server_settings) as runtime:
        yield runtime


@pytest.fixture(scope="session")
def server(server_settings: Settings, server_runtime: Runtime, api_keys) -> Iterator[ServerThread]:
    with ServerThread(create_app(server_settings, runtime=server_runtime)) as running:
        yield running


@pytest.fixture(scope="session")
def tiny_png() -> bytes:
    """A real 32x32 grayscale PNG."""
    image = Image.new("L", (32, 32), color=90)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()
