"""The server's API keys: stored only as SHA-256 digests, each naming a tenant, a user and a role.

A key reads `mgk_<key id>_<secret>`; the file keeps the key id, the digest of the whole key and
who it stands for, never the key itself. The file is re-read when it changes, so a revoked key
stops working without a restart.

Usage:
    raw = add_key(path, tenant="st-marys", user="ada", role="clinician")  # shown once
    ring = KeyRing(path)
    principal = ring.authenticate(raw)  # Principal(tenant="st-marys", user="ada", ...)
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import secrets
import tempfile
import threading
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import get_args

from state.errors import ConfigError, InputError
from state.schema import Role

KEY_PREFIX = "mgk_"
TENANT_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
USER_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")
_KEY_PATTERN = re.compile(r"^mgk_([0-9a-f]{12})_([A-Za-z0-9_-]{32,64})$")


@dataclass(frozen=True)
class Principal:
    """Who a request comes from: the key's tenant, user and role."""

    key_id: str
    tenant: str
    user: str
    role: Role


@dataclass(frozen=True)
class KeyRecord:
    """One stored key: its id, the SHA-256 of the whole key, and whom it stands for."""

    key_id: str
    sha256: str
    tenant: str
    user: str
    role: Role
    created_at: str


def _digest(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def read_keys(path: Path) -> list[KeyRecord]:
    """The records of a key file; a missing file has none, a malformed one is a `ConfigError`."""
    if not path.exists():
        return []
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))["keys"]
        records = [KeyRecord(**entry) for entry in entries]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"API key file {path} is unreadable or malformed: {exc}") from exc
    for record in records:
        if record.role not in get_args(Role):
            raise ConfigError(f"API key file {path}: key {record.key_id} has role {record.role!r}")
    return records


def _write_keys(path: Path, records: list[KeyRecord]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = json.dumps({"keys": [asdict(r) for r in records]}, indent=2)
    with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False, encoding="utf-8") as tmp:
        tmp.write(payload)
    os.chmod(tmp.name, 0o600)
    os.replace(tmp.name, path)


def add_key(path: Path, *, tenant: str, user: str, role: Role) -> str:
    """Create a key for `user` of `tenant` with `role`; return it (the only time it is shown)."""
    if not TENANT_PATTERN.match(tenant):
        raise InputError(f"tenant {tenant!r} must be lowercase letters, digits, '-' or '_'")
    if not USER_PATTERN.match(user):
        raise InputError(f"user {user!r} must be letters, digits, '.', '@', '-' or '_'")
    if role not in get_args(Role):
        raise InputError(f"role {role!r} must be one of {', '.join(get_args(Role))}")
    key_id = secrets.token_hex(6)
    raw = f"{KEY_PREFIX}{key_id}_{secrets.token_urlsafe(32)}"
    record = KeyRecord(
        key_id=key_id,
        sha256=_digest(raw),
        tenant=tenant,
        user=user,
        role=role,
        created_at=datetime.now(UTC).isoformat(),
    )
    _write_keys(path, [*read_keys(path), record])
    return raw


def revoke_key(path: Path, key_id: str) -> bool:
    """Remove a key by id; False when there was no such key."""
    records = read_keys(path)
    kept = [r for r in records if r.key_id != key_id]
    if len(kept) == len(records):
        return False
    _write_keys(path, kept)
    return True


class KeyRing:
    """Authenticates raw keys against a key file, re-reading the file when it changes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._stamp: tuple[int, int] | None = None
        self._by_id: dict[str, KeyRecord] = {}
        self._reload()

    def _reload(self) -> None:
        try:
            stat = self.path.stat()
            stamp: tuple[int, int] | None = (stat.st_mtime_ns, stat.st_size)
        except FileNotFoundError:
            stamp = None
        with self._lock:
            if stamp == self._stamp and (stamp is not None or not self._by_id):
                return
            self._by_id = {r.key_id: r for r in read_keys(self.path)}
            self._stamp = stamp

    @property
    def size(self) -> int:
        """How many keys the file holds."""
        self._reload()
        return len(self._by_id)

    def authenticate(self, raw: str) -> Principal | None:
        """The principal of a valid key, else None (malformed, unknown or revoked)."""
        match = _KEY_PATTERN.match(raw.strip())
        if match is None:
            return None
        self._reload()
        record = self._by_id.get(match.group(1))
        if record is None or not hmac.compare_digest(record.sha256, _digest(raw.strip())):
            return None
        return Principal(record.key_id, record.tenant, record.user, record.role)
