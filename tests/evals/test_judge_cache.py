"""The judge cache: same judge, rubric and texts are answered from disk; failures are not kept.

The inner judge is a SCRIPTED transport (no language model), counting its calls.
"""

from __future__ import annotations

import asyncio

from evals.judge import JudgeCase, JudgeReply, LlmJudge
from evals.judge_cache import CachingJudge, JudgeCache
from evals.rubric import load_rubrics
from state.errors import ModelEndpointError

RUBRICS = load_rubrics()
CASE = JudgeCase(item_id="q1", question="What is a silhouette sign?", answer="Loss of a border.")


class CountingTransport:
    """Scripted: replies '4' (or raises while `down`), counting calls."""

    identity = "scripted@test"
    logprobs = False

    def __init__(self) -> None:
        self.calls = 0
        self.down = False

    def rate(self, messages, max_tokens):
        self.calls += 1
        if self.down:
            raise ModelEndpointError("cannot reach the judge model at http://x/v1")
        return JudgeReply("4")


def test_a_repeated_question_is_answered_from_the_cache(tmp_path) -> None:
    transport = CountingTransport()
    judge = CachingJudge(LlmJudge(transport), JudgeCache(tmp_path))
    first = asyncio.run(judge.score(CASE, RUBRICS["relevance"]))
    again = asyncio.run(
        judge.score(CASE.model_copy(update={"item_id": "q9"}), RUBRICS["relevance"])
    )
    assert transport.calls == 1
    assert (first.cached, again.cached) == (False, True)
    assert again.score == first.score and again.item_id == "q9"
    fresh = CachingJudge(LlmJudge(transport), JudgeCache(tmp_path))
    assert asyncio.run(fresh.score(CASE, RUBRICS["relevance"])).cached
    assert transport.calls == 1


def test_a_changed_answer_or_rubric_is_judged_afresh(tmp_path) -> None:
    transport = CountingTransport()
    judge = CachingJudge(LlmJudge(transport), JudgeCache(tmp_path))
    asyncio.run(judge.score(CASE, RUBRICS["relevance"]))
    asyncio.run(
        judge.score(CASE.model_copy(update={"answer": "A border vanishes."}), RUBRICS["relevance"])
    )
    asyncio.run(judge.score(CASE, RUBRICS["faithfulness"]))
    changed = RUBRICS["relevance"].model_copy(update={"question": "Is it on topic?"})
    asyncio.run(judge.score(CASE, changed))
    assert transport.calls == 4


def test_failed_verdicts_are_not_cached_so_the_next_run_retries(tmp_path) -> None:
    transport = CountingTransport()
    transport.down = True
    judge = CachingJudge(LlmJudge(transport), JudgeCache(tmp_path))
    failed = asyncio.run(judge.score(CASE, RUBRICS["relevance"]))
    assert failed.score is None and failed.error
    transport.down = False
    recovered = asyncio.run(judge.score(CASE, RUBRICS["relevance"]))
    assert recovered.score == 0.75 and not recovered.cached
    assert transport.calls == 2


def test_preferences_are_cached_too(tmp_path) -> None:
    transport = CountingTransport()
    transport.rate = lambda messages, max_tokens: (  # type: ignore[method-assign]
        setattr(transport, "calls", transport.calls + 1) or JudgeReply("A")
    )
    judge = CachingJudge(LlmJudge(transport), JudgeCache(tmp_path))
    other = CASE.model_copy(update={"answer": "No idea."})
    asyncio.run(judge.prefer(CASE, other, RUBRICS["relevance"]))
    again = asyncio.run(judge.prefer(CASE, other, RUBRICS["relevance"]))
    assert transport.calls == 2 and again.cached


def test_an_unreadable_entry_counts_as_a_miss(tmp_path) -> None:
    cache = JudgeCache(tmp_path)
    key = cache.key("score", "x")
    cache.put(key, {"a": 1})
    assert cache.get(key) == {"a": 1}
    (tmp_path / key[:2] / f"{key}.json").write_text("{not json")
    assert cache.get(key) is None
