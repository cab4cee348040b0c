"""The one path by which agents call chat models: per-role clients, error translation, call reports.

Every call goes through `tools.guards.wrapper.guarded`: PHI is redacted from the outgoing
messages, and the result is checked for leaked identifiers before the caller sees it.

Usage:
    access = ModelAccess(
        endpoints={"composer": Endpoint("composer", url, "MEDGRAPH_MODEL_BASE_URL", "gemma")},
        chat_models={"composer": ChatOpenAI(...)},
        structured=InstructorCaller({"composer": instructor.from_openai(OpenAI(...))}, models),
        observer=lambda report: print(report.latency_ms),
    )
    text = access.complete("composer", [HumanMessage("hi")], max_tokens=40)
    decision = access.structured("router", RouteDecision, messages)
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Literal, Protocol, TypeVar

import instructor
import openai
from instructor.core.exceptions import InstructorRetryException
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessageChunk, BaseMessage, convert_to_openai_messages
from pydantic import BaseModel

from state.errors import ModelEndpointError
from tools.guards.phi import PhiRedactor
from tools.guards.wrapper import ModelCallGuard, OutputLeak, guarded

ModelT = TypeVar("ModelT", bound=BaseModel)


@dataclass(frozen=True)
class Endpoint:
    """Where one role's calls go, and which setting a user changes to point it elsewhere."""

    role: str
    base_url: str
    setting: str
    model: str


@dataclass(frozen=True)
class Usage:
    """Token counts a call reported (None when the endpoint did not say)."""

    prompt_tokens: int | None = None
    completion_tokens: int | None = None


@dataclass(frozen=True)
class ModelCallReport:
    """What one model call did, with the prompt only as a SHA-256 digest (never in clear)."""

    role: str
    model: str
    base_url: str
    kind: Literal["text", "structured"]
    prompt_sha256: str
    usage: Usage
    latency_ms: float
    outcome: Literal["ok", "error"]
    error: str | None


CallObserver = Callable[[ModelCallReport], None]


class StructuredCaller(Protocol):
    """Calls a model for a pydantic-validated structured output (instructor in production)."""

    def __call__(
        self, role: str, response_model: type[ModelT], messages: list[dict[str, str]]
    ) -> tuple[ModelT, Usage]: ...


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
    ) -> tuple[ModelT, Usage]:
        try:
            result, completion = self._clients[role].chat.completions.create_with_completion(
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
        usage = getattr(completion, "usage", None)
        return result, Usage(
            prompt_tokens=getattr(usage, "prompt_tokens", None),
            completion_tokens=getattr(usage, "completion_tokens", None),
        )


def _digest(messages: Sequence[dict[str, str]]) -> str:
    text = "\n".join(f"{m['role']}:{m['content']}" for m in messages)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _texts_of(messages: Sequence[BaseMessage]) -> list[str]:
    """Every text a request carries: string contents and the text parts of multimodal ones."""
    texts: list[str] = []
    for message in messages:
        if isinstance(message.content, str):
            texts.append(message.content)
        else:
            texts += [p["text"] for p in message.content if isinstance(p, dict) and "text" in p]
    return texts


def _with_texts(messages: Sequence[BaseMessage], texts: list[str]) -> list[BaseMessage]:
    """The messages with their texts replaced, in the order `_texts_of` listed them."""
    remaining = iter(texts)
    out: list[BaseMessage] = []
    for message in messages:
        if isinstance(message.content, str):
            content: str | list = next(remaining)
        else:
            content = [
                {**p, "text": next(remaining)} if isinstance(p, dict) and "text" in p else p
                for p in message.content
            ]
        out.append(message.model_copy(update={"content": content}))
    return out


def _openai_messages(messages: Sequence[BaseMessage]) -> list[dict[str, str]]:
    return [
        {"role": m["role"], "content": str(m["content"])}
        for m in convert_to_openai_messages(list(messages))
    ]


class ModelAccess:
    """Per-role chat models and structured callers; every call is guarded, translated, reported.

    Without a `guard`, the strict default applies (PHI redaction and leakage checks, prod).
    """

    def __init__(
        self,
        endpoints: dict[str, Endpoint],
        chat_models: dict[str, BaseChatModel],
        structured: StructuredCaller,
        observer: CallObserver | None = None,
        guard: ModelCallGuard | None = None,
    ) -> None:
        self._endpoints = endpoints
        self._chat_models = chat_models
        self._structured = structured
        self._observer = observer
        self._guard = guard or ModelCallGuard(PhiRedactor())

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

        def call(texts: list[str]) -> str:
            safe = _with_texts(messages, texts)
            with self._reported(role, "text", _openai_messages(safe)) as usage_sink:
                chunks: list[str] = []
                for chunk in model.stream(safe):
                    chunks.append(chunk.text)
                    if isinstance(chunk, AIMessageChunk) and chunk.usage_metadata:
                        usage_sink.append(
                            Usage(
                                chunk.usage_metadata["input_tokens"],
                                chunk.usage_metadata["output_tokens"],
                            )
                        )
            return "".join(chunks)

        return guarded(self._guard, role, _texts_of(messages), call)

    def structured(
        self, role: str, response_model: type[ModelT], messages: Sequence[BaseMessage]
    ) -> ModelT:
        """Ask the role's model for a `response_model`, validated by pydantic.

        An output that carries an identifier is refused as `StructuredOutputFailed`, so the
        caller takes its deterministic fallback.
        """

        def call(texts: list[str]) -> ModelT:
            payload = _openai_messages(_with_texts(messages, texts))
            with self._reported(role, "structured", payload) as usage_sink:
                result, usage = self._structured(role, response_model, payload)
                usage_sink.append(usage)
            return result

        try:
            return guarded(self._guard, role, _texts_of(messages), call)
        except OutputLeak as exc:
            raise StructuredOutputFailed(
                f"the {role} model's {response_model.__name__} failed the PII leakage guard"
            ) from exc

    @contextmanager
    def _reported(
        self, role: str, kind: Literal["text", "structured"], messages: list[dict[str, str]]
    ) -> Iterator[list[Usage]]:
        endpoint = self._endpoints[role]
        usage_sink: list[Usage] = []
        started = time.perf_counter()
        error: BaseException | None = None
        try:
            with _translated(endpoint):
                yield usage_sink
        except BaseException as exc:
            error = exc
            raise
        finally:
            if self._observer is not None:
                self._observer(
                    ModelCallReport(
                        role=role,
                        model=endpoint.model,
                        base_url=endpoint.base_url,
                        kind=kind,
                        prompt_sha256=_digest(messages),
                        usage=usage_sink[-1] if usage_sink else Usage(),
                        latency_ms=(time.perf_counter() - started) * 1000,
                        outcome="ok" if error is None else "error",
                        error=None if error is None else error.__class__.__name__,
                    )
                )
