"""The one path by which agents call chat models: per-role clients and endpoint error translation.

Usage:
    access = ModelAccess(
        endpoints={"composer": Endpoint("composer", url, "MEDGRAPH_MODEL_BASE_URL", "gemma")},
        chat_models={"composer": ChatOpenAI(...)},
        structured=InstructorCaller({"composer": instructor.from_openai(OpenAI(...))}, models),
    )
    text = access.complete("composer", [HumanMessage("hi")], max_tokens=40)
    decision = access.structured("router", RouteDecision, messages)
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Protocol, TypeVar

import instructor
import openai
from instructor.core.exceptions import InstructorRetryException
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage, convert_to_openai_messages
from pydantic import BaseModel

from state.errors import ModelEndpointError

ModelT = TypeVar("ModelT", bound=BaseModel)


@dataclass(frozen=True)
class Endpoint:
    """Where one role's calls go, and which setting a user changes to point it elsewhere."""

    role: str
    base_url: str
    setting: str
    model: str


class StructuredCaller(Protocol):
    """Calls a model for a pydantic-validated structured output (instructor in production)."""

    def __call__(
        self, role: str, response_model: type[ModelT], messages: list[dict[str, str]]
    ) -> ModelT: ...


class StructuredOutputFailed(ModelEndpointError):
    """The model answered, but not with a valid object after the allowed re-asks."""


@contextmanager
def _translated(endpoint: Endpoint) -> Iterator[None]:
    """Turn client-library failures into `ModelEndpointError` naming the URL and the setting."""
    try:
        yield
    except openai.APIConnectionError as exc:
        raise ModelEndpointError(
            f"cannot reach the {endpoint.role} model at {endpoint.base_url} "
            f"({exc.__class__.__name__}); check that the server is running, "
            f"or change {endpoint.setting}"
        ) from exc
    except openai.APIStatusError as exc:
        raise ModelEndpointError(
            f"the {endpoint.role} model at {endpoint.base_url} answered HTTP {exc.status_code}"
            f"; check the model name and key, or change {endpoint.setting}"
        ) from exc


class InstructorCaller:
    """Structured outputs through instructor's OpenAI client, with at most `max_reasks` re-asks."""

    def __init__(
        self, clients: dict[str, instructor.Instructor], models: dict[str, str], max_reasks: int = 2
    ) -> None:
        self._clients = clients
        self._models = models
        self._max_reasks = max_reasks

    def __call__(
        self, role: str, response_model: type[ModelT], messages: list[dict[str, str]]
    ) -> ModelT:
        try:
            return self._clients[role].chat.completions.create(
                model=self._models[role],
                response_model=response_model,
                messages=messages,  # type: ignore[arg-type]
                max_retries=self._max_reasks,
                temperature=0.0,
            )
        except InstructorRetryException as exc:
            raise StructuredOutputFailed(
                f"the {role} model gave no valid {response_model.__name__} after "
                f"{self._max_reasks} re-asks"
            ) from exc


class ModelAccess:
    """Per-role chat models and structured callers, with every failure translated."""

    def __init__(
        self,
        endpoints: dict[str, Endpoint],
        chat_models: dict[str, BaseChatModel],
        structured: StructuredCaller,
    ) -> None:
        self._endpoints = endpoints
        self._chat_models = chat_models
        self._structured = structured

    def endpoint(self, role: str) -> Endpoint:
        """The endpoint a role calls."""
        return self._endpoints[role]

    def complete(
        self,
        role: str,
        messages: Sequence[BaseMessage],
        *,
        max_tokens: int,
        stop: list[str] | None = None,
    ) -> str:
        """Generate text for `messages` with the role's chat model (streams to callbacks)."""
        model = self._chat_models[role].bind(max_tokens=max_tokens, stop=stop)
        with _translated(self._endpoints[role]):
            chunks = [chunk.text for chunk in model.stream(list(messages))]
        return "".join(chunks)

    def structured(
        self, role: str, response_model: type[ModelT], messages: Sequence[BaseMessage]
    ) -> ModelT:
        """Ask the role's model for a `response_model`, validated by pydantic."""
        payload = [
            {"role": m["role"], "content": str(m["content"])}
            for m in convert_to_openai_messages(list(messages))
        ]
        with _translated(self._endpoints[role]):
            return self._structured(role, response_model, payload)
