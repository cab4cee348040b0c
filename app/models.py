"""Model providers: build per-role LangChain chat models and instructor clients from settings."""

from __future__ import annotations

import instructor
import openai
from langchain_core.language_models import BaseChatModel
from langchain_openai import ChatOpenAI

from agents.model_access import CallObserver, Endpoint, InstructorCaller, ModelAccess
from app.settings import MODEL_ROLES, Settings
from tools.guards.wrapper import ModelCallGuard


def build_model_access(
    settings: Settings,
    embedded_base_url: str | None,
    observer: CallObserver | None = None,
    guard: ModelCallGuard | None = None,
) -> ModelAccess:
    """Clients for every role; roles without a configured URL use `embedded_base_url`."""
    endpoints: dict[str, Endpoint] = {}
    chat_models: dict[str, BaseChatModel] = {}
    clients: dict[str, instructor.Instructor] = {}
    models: dict[str, str] = {}
    for name in MODEL_ROLES:
        role = settings.model_role(name)
        base_url = role.base_url or embedded_base_url
        if base_url is None:
            raise ValueError(f"role {name!r} needs the embedded endpoint, which is not running")
        setting = (
            role.base_url_setting if role.base_url else "MEDGRAPH_MODEL_BASE_URL (unset: embedded)"
        )
        endpoints[name] = Endpoint(name, base_url, setting, role.model)
        chat_models[name] = ChatOpenAI(
            base_url=base_url,
            api_key=role.api_key,
            model=role.model,
            temperature=0.0,
            timeout=settings.model_timeout_s,
            max_retries=settings.model_max_retries,
            streaming=True,
            stream_usage=True,
        )
        client = openai.OpenAI(
            base_url=base_url,
            api_key=role.api_key.get_secret_value(),
            timeout=settings.model_timeout_s,
            max_retries=settings.model_max_retries,
        )
        clients[name] = instructor.from_openai(client, mode=instructor.Mode.JSON_SCHEMA)
        models[name] = role.model
    return ModelAccess(
        endpoints, chat_models, InstructorCaller(clients, models), observer, guard=guard
    )
