"""The tutor's LLM judge goes through ModelAccess (scripted structured outputs: wiring only)."""

from __future__ import annotations

import pytest

from agents.model_access import Endpoint, ModelAccess, StructuredOutputFailed, Usage
from agents.tutor_judge import ModelJudge
from tests.scripted import ScriptedChatModel, ScriptedStructured
from tools.models.embedder import MiniLMEmbedder
from tools.tutor.bank import Question, load_bank
from tools.tutor.grading import Grader
from tools.tutor.wire import JudgeVerdict

QUESTION_ID = "q-auto-005"
ANSWER = "If it is nearly always correct, clinicians no longer verify it, so rare mistakes pass."


def _access(structured) -> ModelAccess:
    endpoint = Endpoint("judge", "http://scripted.invalid/v1", "MEDGRAPH_JUDGE_BASE_URL", "s")
    return ModelAccess(
        endpoints={"judge": endpoint},
        chat_models={"judge": ScriptedChatModel.replying([])},
        structured=structured,
    )


@pytest.fixture(scope="module")
def minilm() -> MiniLMEmbedder:
    return MiniLMEmbedder.load("cpu")


@pytest.fixture(scope="module")
def question() -> Question:
    return load_bank().question(QUESTION_ID)


def test_judge_verdict_grades_free_text_through_model_access(
    minilm: MiniLMEmbedder, question: Question
) -> None:
    verdict = JudgeVerdict(correct=True, score=0.9, reasoning="It names unchecked errors.")
    scripted = ScriptedStructured({"JudgeVerdict": [verdict]})
    grader = Grader(minilm.embed, judge=ModelJudge(_access(scripted)))
    result = grader.grade(question, ANSWER)
    assert scripted.calls == [("judge", "JudgeVerdict")]
    assert result.method == "judge" and result.correct and result.score == 0.9


def test_failed_structured_judge_falls_back_to_the_rubric(
    minilm: MiniLMEmbedder, question: Question
) -> None:
    def failing(role: str, response_model: type, messages: list[dict[str, str]]):
        raise StructuredOutputFailed("the judge model gave no valid JudgeVerdict")

    grader = Grader(minilm.embed, judge=ModelJudge(_access(failing)))
    result = grader.grade(question, ANSWER)
    assert result.method == "rubric"
    assert result.feedback.endswith("(The judge model failed; graded by rubric.)")


def test_judge_prompt_carries_question_model_answer_and_learner_answer(question: Question) -> None:
    seen: list[list[dict[str, str]]] = []

    def recording(role: str, response_model: type, messages: list[dict[str, str]]):
        seen.append(messages)
        return JudgeVerdict(correct=False, score=0.2, reasoning="Too vague."), Usage()

    ModelJudge(_access(recording))(question, ANSWER)
    user = seen[0][-1]["content"]
    assert question.stem in user and question.answer in user and ANSWER in user
