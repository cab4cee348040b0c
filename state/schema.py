"""The typed state of the supervisor graph and the records agents write into it."""

from __future__ import annotations

from typing import Annotated, Literal

from langchain_core.messages import AnyMessage
from langgraph.graph.message import add_messages
from pydantic import BaseModel, Field
from typing_extensions import TypedDict

Intent = Literal["radiology", "documents", "tutor", "policy", "general", "escalate"]
INTENTS: tuple[Intent, ...] = ("radiology", "documents", "tutor", "policy", "general", "escalate")
SPECIALIST_INTENTS: tuple[Intent, ...] = ("radiology", "documents", "tutor", "policy")

RouteMethod = Literal["embedding", "llm", "clarify", "safety", "fallback"]


class RouteTask(BaseModel):
    """One piece of work for one agent: the intent and the text it should handle."""

    intent: Intent
    text: str
    confidence: float = Field(ge=0.0, le=1.0)


class RoutePlan(BaseModel):
    """The supervisor's decision for a turn: which agents run, how it decided, how sure it was."""

    tasks: list[RouteTask] = Field(default_factory=list)
    method: RouteMethod
    confidence: float = Field(ge=0.0, le=1.0)
    scores: dict[str, float] = Field(default_factory=dict)
    clarify_question: str | None = None


class AgentAnswer(BaseModel):
    """What one agent produced for one task; answers are merged in task order."""

    order: int = Field(ge=0, description="position of the task in the route plan")
    agent: str
    text: str
    needs_human: bool = False
    citations: list[str] = Field(default_factory=list)


def merge_answers(left: list[AgentAnswer], right: list[AgentAnswer] | None) -> list[AgentAnswer]:
    """Reducer for fan-out: collect answers from parallel agents; `None` clears the list."""
    if right is None:
        return []
    return [*left, *right]


class MedGraphState(TypedDict, total=False):
    """The graph state checkpointed after every node."""

    messages: Annotated[list[AnyMessage], add_messages]
    user_id: str
    tenant_id: str
    route: RoutePlan | None
    answers: Annotated[list[AgentAnswer], merge_answers]
