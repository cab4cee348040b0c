"""The roles a MedGraph user acts under (clinician, trainee, admin); light enough for settings."""

from __future__ import annotations

from typing import Literal

Role = Literal["clinician", "trainee", "admin"]
ROLES: tuple[Role, ...] = ("clinician", "trainee", "admin")
