"""The LLM judge's parsing, normalisation, G-Eval weighting, pairwise swap and failure reporting.

These tests use SCRIPTED judges, not a language model: a `ScriptedChatModel` behind a real
`ModelAccess` (so the judge's calls take the guarded production path), and small scripted
transports for log-probabilities, position bias and concurrency. They check the harness's
logic, not judgement quality (that is the calibration suite's job in `pytest evals/`).
"""

from __future__ import annotations

import asyncio
import math
import socket
import threading
import time
from collections.abc import Sequence

import pytest
from langchain_core.messages import BaseMessage
from langchain_openai import ChatOpenAI

from agents.model_access import Endpoint, ModelAccess
from evals.judge import (
    JudgeCase,
    JudgeParseError,
    JudgeReply,
    LlmJudge,
    ModelAccessTransport,
    geval_score,
    parse_choice,
    parse_score,
    prefer_all,
    score_all,
)
from evals.rubric import load_rubrics
from tests.scripted import ScriptedChatModel, ScriptedStructured

RUBRICS = load_rubrics()
FAITH = RUBRICS["faithfulness"]
CASE = JudgeCase(
    item_id="q1",
    question="Who needs orbital radiographs before MRI?",
    answer="Welders and metal grinders.",
    sources=["Patients who have worked with metal grinding or welding need orbital radiographs."],
)


def scripted_judge_access(replies: list[str]) -> ModelAccess:
    """A real ModelAccess whose judge role is a ScriptedChatModel replaying `replies`."""
    endpoint = Endpoint("judge", "http://scripted.invalid/v1", "MEDGRAPH_JUDGE_BASE_URL", "s")
    return ModelAccess(
        endpoints={"judge": endpoint},
        chat_models={"judge": ScriptedChatModel.replying(replies)},
        structured=ScriptedStructured({}),
    )


class ScriptedTransport:
    """A scripted judge transport: a function of the prompt's last message gives the reply."""

    logprobs = False

    def __init__(self, reply, *, logprobs: bool = False, delay: float = 0.0) -> None:
        self.identity = "scripted@test"
        self.logprobs = logprobs
        self._reply = reply
        self._delay = delay
        self.calls = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()

    def rate(self, messages: Sequence[BaseMessage], max_tokens: int) -> JudgeReply:
        with self._lock:
            self.calls += 1
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        time.sleep(self._delay)
        with self._lock:
            self.in_flight -= 1
        return self._reply(str(messages[-1].content))


@pytest.mark.parametrize(
    ("reply", "raw"),
    [("4", 4), (" 5\n", 5), ("Score: 3/5", 3), ("I would give it a 2 out of 5.", 2), ("1.", 1)],
)
def test_plain_scores_are_parsed_and_normalised_to_unit_range(reply: str, raw: int) -> None:
    judge = LlmJudge(ModelAccessTransport(scripted_judge_access([reply])), concurrency=1)
    verdict = asyncio.run(judge.score(CASE, FAITH))
    assert verdict.error is None
    assert verdict.method == "plain"
    assert verdict.raw == raw
    assert verdict.score == pytest.approx((raw - 1) / 4)
    assert "plain score" in judge.label and "scripted.invalid" in judge.label


@pytest.mark.parametrize("reply", ["excellent answer", "7", "10/10", "3.5"])
def test_replies_without_a_score_on_the_scale_are_refused(reply: str) -> None:
    with pytest.raises(JudgeParseError):
        parse_score(reply, FAITH)


def test_an_unparseable_reply_is_an_error_verdict_not_a_score() -> None:
    judge = LlmJudge(ModelAccessTransport(scripted_judge_access(["great job"])), concurrency=1)
    verdict = asyncio.run(judge.score(CASE, FAITH))
    assert verdict.score is None
    assert verdict.error is not None and "JudgeParseError" in verdict.error


def test_geval_weights_the_scale_digits_by_their_probabilities() -> None:
    top = [
        {"Score": -0.01, " ": -5.0},
        {"4": math.log(0.6), "5": math.log(0.3), "2": math.log(0.05), "x": math.log(0.05)},
    ]
    expected = (4 * 0.6 + 5 * 0.3 + 2 * 0.05) / 0.95
    assert geval_score(top, FAITH) == pytest.approx(expected)
    assert geval_score([{"hello": -0.1}], FAITH) is None


def test_a_transport_with_logprobs_gives_geval_verdicts() -> None:
    transport = ScriptedTransport(
        lambda _: JudgeReply("4", [{"4": math.log(0.5), "5": math.log(0.5)}]), logprobs=True
    )
    judge = LlmJudge(transport)
    verdict = asyncio.run(judge.score(CASE, FAITH))
    assert verdict.method == "geval"
    assert verdict.raw == pytest.approx(4.5)
    assert verdict.score == pytest.approx(0.875)
    assert "G-Eval" in judge.label


def test_a_judge_that_always_prefers_the_first_answer_yields_no_consistent_wins() -> None:
    judge = LlmJudge(ScriptedTransport(lambda _: JudgeReply("A")))
    worse = CASE.model_copy(update={"answer": "MRI is safe for everyone."})
    preferences = asyncio.run(prefer_all(judge, [(CASE, worse), (worse, CASE)], FAITH))
    assert all(p.winner == "tie" and not p.consistent for p in preferences)
    assert all(p.orders == ("a", "b") for p in preferences)


def test_a_preference_that_survives_the_swap_is_a_consistent_win() -> None:
    def prefers_welders(prompt: str) -> JudgeReply:
        a, b = prompt.split("Answer A:")[1].split("Answer B:")
        return JudgeReply("A" if "Welders" in a else "B" if "Welders" in b else "T")

    judge = LlmJudge(ScriptedTransport(prefers_welders))
    worse = CASE.model_copy(update={"answer": "MRI is safe for everyone."})
    first, second = asyncio.run(prefer_all(judge, [(CASE, worse), (worse, CASE)], FAITH))
    assert (first.winner, first.consistent) == ("a", True)
    assert (second.winner, second.consistent) == ("b", True)


@pytest.mark.parametrize(
    ("reply", "choice"), [("A", "a"), ("b.", "b"), ("T", "tie"), ("Tie", "tie")]
)
def test_pairwise_replies_are_parsed(reply: str, choice: str) -> None:
    assert parse_choice(reply) == choice


def test_concurrent_calls_never_exceed_the_limit() -> None:
    transport = ScriptedTransport(lambda _: JudgeReply("3"), delay=0.05)
    judge = LlmJudge(transport, concurrency=2)
    cases = [CASE.model_copy(update={"item_id": f"q{i}"}) for i in range(8)]
    verdicts = asyncio.run(score_all(judge, cases, FAITH))
    assert [v.item_id for v in verdicts] == [c.item_id for c in cases]
    assert transport.calls == 8
    assert transport.max_in_flight == 2


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_an_unreachable_endpoint_is_reported_per_verdict_and_never_scored() -> None:
    url = f"http://127.0.0.1:{_closed_port()}/v1"
    endpoint = Endpoint("judge", url, "MEDGRAPH_JUDGE_BASE_URL", "judge-model")
    model = ChatOpenAI(base_url=url, api_key="x", model="judge-model", max_retries=0, timeout=2)
    access = ModelAccess({"judge": endpoint}, {"judge": model}, ScriptedStructured({}))
    judge = LlmJudge(ModelAccessTransport(access))
    verdicts = asyncio.run(
        score_all(judge, [CASE, CASE.model_copy(update={"item_id": "q2"})], FAITH)
    )
    for verdict in verdicts:
        assert verdict.score is None
        assert "ModelEndpointError" in (verdict.error or "")
        assert url in (verdict.error or "") and "MEDGRAPH_JUDGE_BASE_URL" in (verdict.error or "")
    preference = asyncio.run(judge.prefer(CASE, CASE, FAITH))
    assert preference.error is not None and not preference.consistent
