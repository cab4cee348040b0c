"""MedGraph settings: every `MEDGRAPH_*` environment variable and `.env` entry, validated once."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from state.errors import ConfigError
from state.roles import Role

ModelRoleName = Literal["router", "composer", "judge"]
MODEL_ROLES: tuple[ModelRoleName, ...] = ("router", "composer", "judge")


class ModelRole(BaseModel):
    """Where one model role (router, composer, judge) sends its chat-completions calls."""

    role: ModelRoleName
    base_url: str | None = Field(description="OpenAI-compatible /v1 base URL; None = embedded")
    api_key: SecretStr
    model: str
    base_url_setting: str = Field(description="the env var a user changes to point elsewhere")

    @property
    def embedded(self) -> bool:
        """True when this role is served by the in-process embedded endpoint."""
        return self.base_url is None


class Settings(BaseSettings):
    """All configuration. Library code receives values from here as arguments."""

    model_config = SettingsConfigDict(
        env_prefix="MEDGRAPH_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    # Directories.
    data_dir: Path = Field(default=Path.home() / ".local/share/medgraph")
    cache_dir: Path = Field(default=Path.home() / ".cache/medgraph")

    # Model endpoints: one shared default plus per-role overrides.
    model_base_url: str | None = None
    model_api_key: SecretStr = SecretStr("not-needed")
    model_name: str = "gemma-3-270m"
    router_base_url: str | None = None
    router_api_key: SecretStr | None = None
    router_model: str | None = None
    composer_base_url: str | None = None
    composer_api_key: SecretStr | None = None
    composer_model: str | None = None
    judge_base_url: str | None = None
    judge_api_key: SecretStr | None = None
    judge_model: str | None = None
    model_timeout_s: float = Field(default=120.0, gt=0)
    model_max_retries: int = Field(default=1, ge=0, le=5)

    # Embedded endpoint (`medgraph serve-model`).
    serve_model_host: str = "127.0.0.1"
    serve_model_port: int = Field(default=0, ge=0, le=65535, description="0 = any free port")
    local_device: Literal["auto", "cpu", "cuda"] = "auto"
    local_llm_quantize: bool = Field(default=True, description="int8 dynamic quantisation on CPU")
    local_llm_threads: int = Field(default=0, ge=0, description="0 = torch default")

    # State (the state issue fills these in).
    checkpoint_url: str | None = Field(
        default=None, description="redis://, postgresql://, sqlite:///"
    )
    audit_url: str | None = Field(default=None, description="postgresql:// or sqlite:///")
    audit_fail_open: bool = False

    # Routing.
    route_direct_threshold: float = Field(default=0.85, ge=0, le=1)
    route_verify_threshold: float = Field(default=0.65, ge=0, le=1)
    route_clinical_margin: float = Field(
        default=0.03, ge=0, le=0.5, description="added to both thresholds on clinical routes"
    )
    route_documents_similarity: float = Field(
        default=0.6,
        ge=0,
        le=1,
        description="a question meant for the tutor or general agent goes to the documents "
        "agent when one of the user's chunks is at least this similar (MiniLM cosine)",
    )

    # Input limits.
    max_message_chars: int = Field(default=20_000, gt=0)

    # Identity of the local user (the CLI); the server passes its own.
    user_id: str = "local-user"
    tenant_id: str = "local"

    # Documents (RAG).
    rag_uri: str | None = Field(
        default=None, description="Milvus URI; None = a Milvus Lite file in the data dir"
    )
    rag_rrf_k: int = Field(default=60, ge=1, description="reciprocal-rank-fusion constant")
    rag_top_k: int = Field(default=5, ge=1, le=50, description="chunks an answer may draw on")

    # Server (`medgraph serve`, issue 9): listener, API keys, limits, run durability.
    server_host: str = "127.0.0.1"
    server_port: int = Field(default=8123, ge=0, le=65535, description="0 = any free port")
    server_workers: int = Field(default=1, ge=1, le=64, description="uvicorn worker processes")
    server_api_keys_file: Path | None = Field(
        default=None, description="hashed API keys; None = api_keys.json in the data dir"
    )
    server_redis_url: str | None = Field(
        default=None, description="threads, runs and run events; None = the checkpoint URL"
    )
    server_redis_prefix: str = Field(default="medgraph:srv", min_length=1)
    server_max_body_bytes: int = Field(default=70 * 1024 * 1024, gt=0)
    server_max_attachment_bytes: int = Field(default=50 * 1024 * 1024, gt=0)
    server_max_concurrent_runs: int = Field(default=32, ge=1, description="per worker process")
    server_run_events_ttl_s: int = Field(default=3600, ge=1, description="kept after a run ends")
    server_worker_lease_s: float = Field(
        default=10.0, gt=0, description="a worker silent this long has its runs taken over"
    )
    server_shutdown_grace_s: float = Field(
        default=30.0, ge=0, description="time in-flight runs get to finish on shutdown"
    )
    # End of the server block.

    debug: bool = False

    # Guardrails (issue 4): profile, switches, thresholds and per-route limits.
    guard_profile: Literal["dev", "test", "prod"] = "prod"
    guard_disabled: str = Field(default="", description="comma-separated guards switched off")
    guard_route_off: str = Field(default="", description="guard:route pairs switched off")
    guard_restore_phi: bool = Field(
        default=True, description="restore redacted values in answers shown to the same user"
    )
    guard_injection_threshold: float | None = Field(
        default=None, gt=0, lt=1, description="None = calibrated on the train split"
    )
    guard_route_max_chars: dict[str, int] = Field(
        default_factory=lambda: {
            "radiology": 8_000,
            "documents": 20_000,
            "tutor": 8_000,
            "policy": 12_000,
            "general": 4_000,
            "escalate": 20_000,
        }
    )
    guard_grounding_lexical: float = Field(default=0.6, ge=0, le=1)
    guard_grounding_semantic: float = Field(default=0.6, ge=0, le=1)
    guard_grounding_min_kept: float = Field(default=0.5, ge=0, le=1)

    # --- Policy (issue 7): the local user's role, the rule file, where gated actions write ---
    user_role: Role = Field(
        default="clinician", description="the CLI user's role for gated actions and approvals"
    )
    policy_rules: Path | None = Field(default=None, description="None = the packaged rules")
    policy_outbox_dir: Path | None = Field(
        default=None, description="patient copies and exports; None = <data dir>/outbox"
    )
    # --- end of Policy ---

    # --- Tutor (issue 8): learner store, free-text judge, selection seed ---
    tutor_url: str | None = Field(
        default=None, description="postgresql:// or sqlite:///; None = the audit database"
    )
    tutor_judge: bool = Field(
        default=False, description="grade free-text answers with the judge model role"
    )
    tutor_seed: int = Field(default=0, description="seed of the tutor's item selection")
    tutor_case_questions: int = Field(
        default=30, ge=0, le=600, description="questions built from IU X-ray reports; 0 = none"
    )
    # --- end of Tutor ---

    # --- Radiology (issue 6): which checkpoint, pretrained weights, outputs, report length ---
    radiology_checkpoint: Path | None = Field(
        default=None,
        description="a checkpoint folder; None = the demo model (the cache's, else the packaged)",
    )
    radiology_weights: Path | None = Field(
        default=None, description="local Hugging Face folders siglip/, flan-t5/, biobert/"
    )
    radiology_output_dir: Path | None = Field(
        default=None, description="heatmaps and figures; None = <data dir>/radiology"
    )
    radiology_max_new_tokens: int = Field(
        default=512, ge=20, le=512, description="longest report in tokens (spec §4.6: 512)"
    )
    radiology_threads: int = Field(
        default=1, ge=0, description="torch threads of the report worker; 0 = torch default"
    )
    # --- end of Radiology ---

    @model_validator(mode="after")
    def _check_thresholds(self) -> Settings:
        if self.route_verify_threshold > self.route_direct_threshold:
            raise ValueError(
                "MEDGRAPH_ROUTE_VERIFY_THRESHOLD must not exceed MEDGRAPH_ROUTE_DIRECT_THRESHOLD"
            )
        for name in ("model_base_url", "router_base_url", "composer_base_url", "judge_base_url"):
            url = getattr(self, name)
            if url is not None and not url.startswith(("http://", "https://")):
                raise ValueError(f"MEDGRAPH_{name.upper()} must start with http:// or https://")
        return self

    def model_role(self, role: ModelRoleName) -> ModelRole:
        """Resolve one role's endpoint: the role's own setting, else the shared default."""
        own_url = getattr(self, f"{role}_base_url")
        own_key = getattr(self, f"{role}_api_key")
        own_model = getattr(self, f"{role}_model")
        return ModelRole(
            role=role,
            base_url=own_url or self.model_base_url,
            api_key=own_key or self.model_api_key,
            model=own_model or self.model_name,
            base_url_setting=(
                f"MEDGRAPH_{role.upper()}_BASE_URL" if own_url else "MEDGRAPH_MODEL_BASE_URL"
            ),
        )

    @property
    def any_embedded_role(self) -> bool:
        """True when at least one role needs the embedded endpoint."""
        return any(self.model_role(r).embedded for r in MODEL_ROLES)

    @property
    def resolved_checkpoint_url(self) -> str:
        """The checkpoint URL, defaulting to a SQLite file under the data directory."""
        return self.checkpoint_url or f"sqlite:///{self.data_dir / 'checkpoints.sqlite'}"

    @property
    def resolved_outbox_dir(self) -> Path:
        """Where gated actions write patient copies and exports (policy)."""
        return self.policy_outbox_dir or self.data_dir / "outbox"

    @property
    def resolved_audit_url(self) -> str:
        """The audit URL, defaulting to a SQLite file under the data directory."""
        return self.audit_url or f"sqlite:///{self.data_dir / 'audit.sqlite'}"

    @property
    def resolved_tutor_url(self) -> str:
        """Where learner state and answer events live: the audit database unless set (tutor)."""
        return self.tutor_url or self.resolved_audit_url

    @property
    def resolved_radiology_output_dir(self) -> Path:
        """Where radiology heatmaps and figures are written (radiology)."""
        return self.radiology_output_dir or self.data_dir / "radiology"

    @property
    def resolved_server_keys_file(self) -> Path:
        """The server's API key file, defaulting to one under the data directory."""
        return self.server_api_keys_file or self.data_dir / "api_keys.json"

    @property
    def resolved_server_redis_url(self) -> str | None:
        """Redis for threads, runs and events: its own URL, else a Redis checkpoint URL."""
        if self.server_redis_url:
            return self.server_redis_url
        url = self.resolved_checkpoint_url
        return url if url.startswith(("redis://", "rediss://", "unix://")) else None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Load settings once per process; malformed values become a `ConfigError`."""
    try:
        return Settings()
    except ValidationError as exc:
        problems = "; ".join(
            f"MEDGRAPH_{'.'.join(str(p) for p in err['loc']).upper() or 'SETTINGS'}: {err['msg']}"
            for err in exc.errors()
        )
        raise ConfigError(f"invalid settings: {problems}") from exc
