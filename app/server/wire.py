"""Request bodies of the LangGraph Server API subset, as `langgraph-sdk` sends them.

Fields the sdk may send and this server does not support are refused with a clear 422 rather
than silently ignored; fields that do not change what a run does (tracing, feedback keys,
`stream_resumable`: every stream here is resumable) are accepted and ignored. A run's `config`
is ignored too: the thread, user, tenant and role come from the server and the API key.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
StreamModeName = Literal["values", "updates", "messages", "messages-tuple", "custom"]
STREAM_MODES: tuple[str, ...] = ("values", "updates", "messages", "messages-tuple", "custom")


def check_id(value: str, what: str) -> str:
    """A thread or run id: letters, digits, '.', '_' or '-', at most 128 characters."""
    if not ID_PATTERN.match(value):
        raise ValueError(f"{what} must be 1-128 letters, digits, '.', '_' or '-'")
    return value


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore")


class _Unsupported(_Body):
    """Refuses named fields that would change behaviour this server does not implement."""

    unsupported_fields: ClassVar[tuple[str, ...]] = ()

    @model_validator(mode="before")
    @classmethod
    def _refuse(cls, data: Any) -> Any:
        if isinstance(data, dict):
            used = [
                name
                for name in cls.unsupported_fields
                if data.get(name) not in (None, False, [], {})
            ]
            if used:
                raise ValueError(f"not supported by this server: {', '.join(used)}")
        return data


class ThreadCreate(_Unsupported):
    """POST /threads."""

    unsupported_fields = ("supersteps", "ttl")
    thread_id: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    if_exists: Literal["raise", "do_nothing"] = "raise"

    @field_validator("thread_id")
    @classmethod
    def _id(cls, value: str | None) -> str | None:
        return None if value is None else check_id(value, "thread_id")


class ThreadSearch(_Unsupported):
    """POST /threads/search."""

    unsupported_fields = ("values", "extract")
    metadata: dict[str, Any] = Field(default_factory=dict)
    ids: list[str] | None = None
    status: Literal["idle", "busy", "interrupted", "error"] | None = None
    limit: int = Field(default=10, ge=1, le=1000)
    offset: int = Field(default=0, ge=0)
    sort_by: Literal["thread_id", "created_at", "updated_at", "status"] = "updated_at"
    sort_order: Literal["asc", "desc"] = "desc"


class HistoryRequest(_Body):
    """POST /threads/{id}/history."""

    limit: int = Field(default=10, ge=1, le=1000)
    before: str | dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None


class CheckpointRequest(_Body):
    """POST /threads/{id}/state/checkpoint."""

    checkpoint: dict[str, Any]


class RunCommand(_Unsupported):
    """A run's `command`: only `resume` (the answer to an `interrupt()`) is supported."""

    unsupported_fields = ("goto", "update")
    resume: Any = None


class RunCreate(_Unsupported):
    """POST /threads/{id}/runs, /runs/stream and /runs/wait."""

    unsupported_fields = (
        "checkpoint",
        "checkpoint_id",
        "webhook",
        "after_seconds",
        "on_completion",
        "stream_subgraphs",
    )
    assistant_id: str
    input: dict[str, Any] | None = None
    command: RunCommand | None = None
    stream_mode: StreamModeName | list[StreamModeName] = "values"
    metadata: dict[str, Any] = Field(default_factory=dict)
    config: dict[str, Any] | None = None
    interrupt_before: Literal["*"] | list[str] | None = None
    interrupt_after: Literal["*"] | list[str] | None = None
    multitask_strategy: Literal["reject"] = "reject"
    if_not_exists: Literal["reject", "create"] = "reject"
    on_disconnect: Literal["cancel", "continue"] = "continue"

    @model_validator(mode="after")
    def _input_or_command(self) -> RunCreate:
        if (self.input is None) == (self.command is None):
            raise ValueError("give exactly one of input or command")
        return self

    @property
    def modes(self) -> list[str]:
        """The requested stream modes as a list, without repeats."""
        modes = [self.stream_mode] if isinstance(self.stream_mode, str) else self.stream_mode
        return list(dict.fromkeys(modes)) or ["values"]


class AssistantSearch(_Body):
    """POST /assistants/search."""

    metadata: dict[str, Any] = Field(default_factory=dict)
    graph_id: str | None = None
    name: str | None = None
    limit: int = Field(default=10, ge=1, le=1000)
    offset: int = Field(default=0, ge=0)


class UploadReply(BaseModel):
    """What POST /attachments returns: the id to put in a run's `input.attachments`."""

    upload_id: str
    kind: Literal["image", "file"]
    name: str
    sha256: str
    size_bytes: int
