"""The MedGraph error hierarchy, shared by every layer (it lives in the lowest one)."""


class MedGraphError(Exception):
    """Root of every error MedGraph raises on purpose; boundaries turn it into a message."""

    exit_code: int = 1
    http_status: int = 500


class ConfigError(MedGraphError):
    """A setting is missing, malformed or contradicts another one."""

    exit_code = 2
    http_status = 500


class InputError(MedGraphError):
    """User input was rejected at a boundary (empty, too large, undecodable, unknown command)."""

    exit_code = 2
    http_status = 400


class AssetError(MedGraphError):
    """A local model or data asset is missing or unreadable."""

    exit_code = 3


class ModelEndpointError(MedGraphError):
    """A chat-model endpoint could not be reached or answered with an error."""

    exit_code = 4
    http_status = 502


class GuardBlocked(MedGraphError):
    """A fail-closed guard refused a message or an output."""

    exit_code = 5
    http_status = 422


class StateUnavailable(MedGraphError):
    """The checkpoint store (Redis, Postgres or SQLite) could not be used."""

    exit_code = 6
    http_status = 503


class AuditUnavailable(MedGraphError):
    """The audit trail could not be written and the audit is configured to fail closed."""

    exit_code = 7
    http_status = 503


class ApprovalError(InputError):
    """An approval cannot be applied: nothing is pending, it was already decided, or it is stale."""

    http_status = 409


class PermissionDenied(MedGraphError):
    """The user's role may not do this (e.g. approve an action that needs another role)."""

    exit_code = 8
    http_status = 403


class NotFound(InputError):
    """A thread, run, assistant or upload does not exist, or belongs to another tenant."""

    http_status = 404


class Conflict(InputError):
    """The request contradicts the current state (a thread that exists, a run in progress)."""

    http_status = 409
