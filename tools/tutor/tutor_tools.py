"""The tutor's five LangChain tools, bound to one learner: ask, grade, hint, explain, report.

Usage:
    tools = make_tutor_tools(tutor, user_id="u1", tenant_id="acme")
    by_name = {t.name: t for t in tools}
    by_name["next_question"].invoke({"focus": ["pneumothorax"]})      # QuestionView as a dict
    by_name["grade_answer"].invoke({"answer": "B"})

The learner is bound when the tools are built, never taken from a model's arguments. Bad
input comes back as the tool's error text (the learner's state is unchanged).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from langchain_core.tools import StructuredTool, ToolException
from pydantic import BaseModel, Field

from state.errors import InputError
from tools.tutor.engine import Tutor
from tools.tutor.wire import (
    ExplainInput,
    GradeAnswerInput,
    HintInput,
    NextQuestionInput,
    ProgressInput,
)


class FocusArgs(BaseModel):
    """Arguments of `next_question`."""

    focus: list[str] = Field(default_factory=list, description="concepts or topics to practise")
    diagnostic: bool = Field(default=False, description="start the placement diagnostic")


class AnswerArgs(BaseModel):
    """Arguments of `grade_answer`."""

    answer: str = Field(description="the learner's answer: a letter A–D or free text")


class NoArgs(BaseModel):
    """No arguments."""


class ProgressArgs(BaseModel):
    """Arguments of `progress_report`."""

    plot: bool = Field(default=True, description="also write the mastery PNG")


def make_tutor_tools(tutor: Tutor, user_id: str, tenant_id: str = "") -> list[StructuredTool]:
    """The tutor tools for one learner; each returns the wire shape as a dict."""
    who = {"user_id": user_id, "tenant_id": tenant_id}

    def next_question(focus: list[str] | None = None, diagnostic: bool = False) -> dict[str, Any]:
        args = NextQuestionInput(**who, focus=focus or [], diagnostic=diagnostic)
        return tutor.next_question(args).model_dump()

    def grade_answer(answer: str) -> dict[str, Any]:
        return tutor.grade_answer(GradeAnswerInput(**who, answer=answer)).model_dump()

    def give_hint() -> dict[str, Any]:
        return tutor.give_hint(HintInput(**who)).model_dump()

    def explain_concept(concept: str) -> dict[str, Any]:
        return tutor.explain_concept(ExplainInput(concept=concept)).model_dump()

    def progress_report(plot: bool = True) -> dict[str, Any]:
        return tutor.progress_report(ProgressInput(**who, plot=plot)).model_dump()

    specs: list[tuple[Any, str, type[BaseModel]]] = [
        (next_question, "Pose the learner's next adaptive question.", FocusArgs),
        (grade_answer, "Grade the answer to the open question; hint or explain.", AnswerArgs),
        (give_hint, "The next graduated hint on the open question.", NoArgs),
        (explain_concept, "A concept's curriculum text and key points, cited.", ExplainInput),
        (progress_report, "Mastery per concept, totals, and a PNG plot.", ProgressArgs),
    ]
    return [
        StructuredTool.from_function(
            func=_input_errors_as_replies(func),
            name=func.__name__,
            description=description,
            args_schema=schema,
            handle_tool_error=True,
        )
        for func, description, schema in specs
    ]


def _input_errors_as_replies(func: Callable[..., dict[str, Any]]) -> Callable[..., dict[str, Any]]:
    """Bad input becomes a `ToolException`, whose message the tool returns; others propagate."""

    @functools.wraps(func)
    def call(*args: Any, **kwargs: Any) -> dict[str, Any]:
        try:
            return func(*args, **kwargs)
        except InputError as exc:
            raise ToolException(str(exc)) from exc

    return call
