"""The general agent: a short, scoped reply to chit-chat and out-of-scope requests."""

from __future__ import annotations

import re
from collections.abc import Callable

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage

from agents.model_access import ModelAccess
from agents.registry import CAPABILITIES, AgentTask
from state.schema import SPECIALIST_INTENTS, AgentAnswer, Intent

PROMPT = (
    "You are MedGraph, a clinical AI assistant for chest radiology, medical documents, "
    "teaching and policy. Reply to the user in one short, friendly sentence. Do not give "
    "medical advice and do not answer questions outside those areas."
)
FEW_SHOT: tuple[tuple[str, str], ...] = (
    ("hello there", "Hello! Good to see you."),
    ("what's the weather like in Boston?", "I can't check the weather, sorry."),
    ("thanks, that was useful", "You're welcome, glad it helped."),
)
FALLBACK_OPENING = "Hello! I'm MedGraph."
MAX_OPENING_CHARS = 160
_SENTENCE_END = re.compile(r"(?<=[.!?])\s")


def clean_opening(generated: str, user_text: str) -> str | None:
    """Keep the model's first sentence if it is short, plain prose; otherwise None.

    A verbatim copy of a few-shot reply to a different message is how a weak base model fails
    at this prompt, so it counts as no answer.
    """
    first_line = generated.strip().split("\n", 1)[0].strip()
    sentence = _SENTENCE_END.split(first_line, maxsplit=1)[0].strip()
    if not sentence or len(sentence) > MAX_OPENING_CHARS:
        return None
    if any(sentence == reply and user_text.strip() != shot for shot, reply in FEW_SHOT):
        return None
    if re.search(r"[<>{}\[\]#*`|\\]|https?://|@", sentence):
        return None
    letters = sum(ch.isalpha() for ch in sentence)
    if letters < 2 or letters / len(sentence) < 0.6:
        return None
    return sentence


def scope_statement(installed: list[Intent]) -> str:
    """What this MedGraph build can do now, and what is not installed yet."""
    available = [i for i in SPECIALIST_INTENTS if i in installed]
    missing = [i for i in SPECIALIST_INTENTS if i not in installed]
    lines = ["I can help with:"] if available else []
    lines += [f"- {CAPABILITIES[i]}" for i in available]
    if missing:
        lines.append(
            "Not installed in this build yet: "
            + ", ".join(f"{i} ({CAPABILITIES[i]})" for i in missing)
            + "."
        )
    return "\n".join(lines)


class GeneralAgent:
    """One generated sentence (validated, with a fixed fallback) plus a fixed scope statement."""

    name: Intent = "general"

    def __init__(self, access: ModelAccess, installed: Callable[[], list[Intent]]) -> None:
        self._access = access
        self._installed = installed

    def run(self, task: AgentTask) -> AgentAnswer:
        """Answer with a short opening from the composer model and what MedGraph can do."""
        messages: list[BaseMessage] = [SystemMessage(PROMPT)]
        for user, reply in FEW_SHOT:
            messages += [HumanMessage(user), AIMessage(reply)]
        messages.append(HumanMessage(task.text))
        generated = self._access.complete("composer", messages, max_tokens=40, stop=["\n"])
        opening = clean_opening(generated, task.text) or FALLBACK_OPENING
        return AgentAnswer(
            order=task.order,
            agent=self.name,
            text=f"{opening}\n\n{scope_statement(self._installed())}",
        )
