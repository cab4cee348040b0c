"""API keys: stored only as digests, checked in constant time, revocable; the `keys` commands."""

from __future__ import annotations

import json
import stat

import pytest
from typer.testing import CliRunner

from app.server.keys import KeyRing, add_key, read_keys, revoke_key
from app.server_cli import keys_app
from app.settings import get_settings
from state.errors import ConfigError, InputError


def test_a_key_is_stored_as_a_digest_and_authenticates_to_its_principal(tmp_path):
    path = tmp_path / "keys.json"
    raw = add_key(path, tenant="st-marys", user="ada", role="clinician")
    other = add_key(path, tenant="globex", user="eve", role="trainee")
    text = path.read_text()
    assert raw not in text and raw.split("_")[2] not in text
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    ring = KeyRing(path)
    principal = ring.authenticate(raw)
    assert (principal.tenant, principal.user, principal.role) == ("st-marys", "ada", "clinician")
    assert ring.authenticate(other).tenant == "globex"
    assert ring.authenticate(raw[:-1] + ("A" if raw[-1] != "A" else "B")) is None
    assert ring.authenticate("mgk_short") is None and ring.authenticate("") is None


def test_revoking_a_key_takes_effect_on_the_next_request(tmp_path):
    path = tmp_path / "keys.json"
    raw = add_key(path, tenant="acme", user="ada", role="admin")
    ring = KeyRing(path)
    assert ring.authenticate(raw) is not None
    assert revoke_key(path, raw.split("_")[1]) is True
    assert ring.authenticate(raw) is None
    assert revoke_key(path, raw.split("_")[1]) is False
    assert ring.size == 0


@pytest.mark.parametrize(
    ("tenant", "user", "role"),
    [("Acme Corp", "ada", "clinician"), ("acme", "a/b", "clinician"), ("acme", "ada", "nurse")],
)
def test_bad_tenants_users_and_roles_are_refused(tmp_path, tenant, user, role):
    with pytest.raises(InputError):
        add_key(tmp_path / "keys.json", tenant=tenant, user=user, role=role)


def test_a_malformed_key_file_is_a_config_error_naming_it(tmp_path):
    path = tmp_path / "keys.json"
    path.write_text("{not json")
    with pytest.raises(ConfigError, match=str(path)):
        read_keys(path)
    path.write_text(json.dumps({"keys": [{"key_id": "x"}]}))
    with pytest.raises(ConfigError):
        KeyRing(path)


def test_keys_commands_add_list_and_revoke(settings, tmp_path, monkeypatch):
    keys_file = tmp_path / "cli-keys.json"
    monkeypatch.setenv("MEDGRAPH_SERVER_API_KEYS_FILE", str(keys_file))
    get_settings.cache_clear()
    runner = CliRunner()
    added = runner.invoke(
        keys_app, ["add", "--tenant", "acme", "--user", "ada", "--role", "clinician"]
    )
    assert added.exit_code == 0, added.output
    raw = added.stdout.strip().splitlines()[-1]
    assert KeyRing(keys_file).authenticate(raw).user == "ada"
    listed = runner.invoke(keys_app, ["list"], env={"COLUMNS": "200"})
    key_id = raw.split("_")[1]
    assert key_id in listed.output and raw not in listed.output
    bad = runner.invoke(keys_app, ["add", "--tenant", "acme", "--user", "x", "--role", "nurse"])
    assert bad.exit_code == 2 and "role" in bad.output
    assert runner.invoke(keys_app, ["revoke", key_id]).exit_code == 0
    assert runner.invoke(keys_app, ["revoke", key_id]).exit_code == 2
    assert KeyRing(keys_file).authenticate(raw) is None
