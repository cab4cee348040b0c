"""The tutor's LLM judge for free-text answers: a structured `JudgeVerdict` through `ModelAccess`.

Usage:
    grader = Grader(embed, judge=ModelJudge(access))   # used when MEDGRAPH_TUTOR_JUDGE=true
"""

from __future__ import annotations

from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage

from agents.model_access import ModelAccess
from tools.tutor.bank import Question
from tools.tutor.wire import JudgeVerdict

PROMPT = (
    "You grade a learner's short answer in chest radiography or medical AI. Compare it with "
    "the model answer and the key ideas. The answer is correct when it states the key ideas "
    "correctly in any wording; wrong statements make it incorrect. Reply with the verdict, a "
    "score from 0 to 1, one or two sentences of reasoning addressed to the learner, and the "
    "key ideas it leaves out."
)


class ModelJudge:
    """Grades free text with the `judge` role's model; endpoint failures propagate as errors."""

    def __init__(self, access: ModelAccess, role: str = "judge") -> None:
        self._access = access
        self._role = role

    def __call__(self, question: Question, answer: str) -> JudgeVerdict:
        messages: list[BaseMessage] = [
            SystemMessage(PROMPT),
            HumanMessage(
                f"Question: {question.stem}\n"
                f"Model answer: {question.answer}\n"
                f"Key ideas: {', '.join(question.rubric_keywords)}\n"
                f"Learner's answer: {answer}"
            ),
        ]
        return self._access.structured(self._role, JudgeVerdict, messages)
