"""The specialist registry: which agents are installed, and the reply when one is not."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from langchain_core.messages import AnyMessage

from state.schema import SPECIALIST_INTENTS, AgentAnswer, Attachment, Intent

CAPABILITIES: dict[Intent, str] = {
    "radiology": "draft chest X-ray reports and answer questions about an image",
    "documents": "answer questions from your own documents, with citations",
    "tutor": "teach chest radiology and medical-AI concepts with quizzes and hints",
    "policy": "answer clinical-AI use and data-handling policy questions, and gate actions",
    "general": "explain what MedGraph can do",
    "escalate": "hand safety concerns to a human",
}


@dataclass(frozen=True)
class AgentTask:
    """One task for one agent: the text to handle, its place in the plan, and the conversation."""

    intent: Intent
    text: str
    order: int
    history: Sequence[AnyMessage] = field(default_factory=tuple)
    user_id: str = ""
    tenant_id: str = ""
    attachments: Sequence[Attachment] = field(default_factory=tuple)

    def images(self) -> list[Attachment]:
        """The images attached to this turn."""
        return [a for a in self.attachments if a.kind == "image"]


class Agent(Protocol):
    """A specialist: takes one task, returns one answer."""

    name: Intent

    def run(self, task: AgentTask) -> AgentAnswer: ...


class AgentRegistry:
    """Agents keyed by intent; the graph asks it who handles each task."""

    def __init__(self) -> None:
        self._agents: dict[Intent, Agent] = {}

    def register(self, agent: Agent) -> None:
        """Install an agent for its intent; a second agent for the same intent is an error."""
        if agent.name in self._agents:
            raise ValueError(f"an agent is already registered for {agent.name!r}")
        self._agents[agent.name] = agent

    def get(self, intent: Intent) -> Agent | None:
        """The agent for `intent`, or None when that capability is not installed."""
        return self._agents.get(intent)

    def installed(self) -> list[Intent]:
        """Intents that have an agent, in registration order."""
        return list(self._agents)

    def missing_specialists(self) -> list[Intent]:
        """Specialist capabilities that no agent provides yet."""
        return [i for i in SPECIALIST_INTENTS if i not in self._agents]


def not_installed_answer(task: AgentTask) -> AgentAnswer:
    """The plain reply for a route whose specialist is not installed: never a fake answer."""
    return AgentAnswer(
        order=task.order,
        agent=task.intent,
        text=(
            f"The {task.intent} capability is not installed in this MedGraph build, so I cannot "
            f"{CAPABILITIES[task.intent]} yet. Nothing was generated for this request."
        ),
    )
