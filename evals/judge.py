"""The LLM judge: rubric scores (G-Eval weighted or plain) and order-swapped pairwise preferences.

The judge speaks the OpenAI chat protocol through `ModelAccess` (role `judge`), so its calls are
guarded, audited and translated like every other model call. A transport returns the reply
text and, when the endpoint gives them, the top log-probabilities of the first tokens:

- with log-probabilities, the score is G-Eval's expectation Σ k·p(k) over the scale's digits
  at the first position where a digit is among the top tokens (method `geval`);
- without them, the first digit of the reply in the scale is the score (method `plain`).

Either way the score is normalised to 0..1. A reply with no usable score, or a failed call, is
a verdict with `error` set and no score: it is reported, never scored as zero.

Pairwise comparison asks for both orders (A/B then B/A); only a preference that survives the
swap is a win, so a judge that always prefers the first answer produces no wins at all.

Usage:
    judge = LlmJudge(ModelAccessTransport(access), concurrency=4)
    verdicts = asyncio.run(score_all(judge, cases, rubrics["faithfulness"]))
    preference = asyncio.run(judge.prefer(case_a, case_b, rubrics["relevance"]))
"""

from __future__ import annotations

import asyncio
import math
import re
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage
from pydantic import BaseModel, ConfigDict, Field

from agents.model_access import ModelAccess
from evals.rubric import Rubric
from state.errors import MedGraphError

ScoreMethod = Literal["geval", "plain", "offline"]
Choice = Literal["a", "b", "tie"]
PAIRWISE_PROMPT = (
    "You compare two answers to the same question. Rubric: {title}.\n{question}\n"
    "Reply with one letter: A if answer A is better, B if answer B is better, or T for a tie."
)


class JudgeCase(BaseModel):
    """What the judge sees of one item."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    item_id: str
    question: str
    answer: str
    sources: list[str] = Field(default_factory=list)
    reference: str = ""


class Verdict(BaseModel):
    """One rubric score: `score` in 0..1, or `error` saying why there is none."""

    model_config = ConfigDict(extra="forbid")

    item_id: str
    rubric: str
    score: float | None
    raw: float | None = None
    method: ScoreMethod
    judge: str
    error: str | None = None
    cached: bool = False


class Preference(BaseModel):
    """A pairwise judgement: the winner only when both orders agree."""

    model_config = ConfigDict(extra="forbid")

    item_id: str
    rubric: str
    winner: Choice
    consistent: bool
    orders: tuple[Choice | None, Choice | None] = Field(
        description="the preference in the A/B order and in the swapped order, mapped back"
    )
    judge: str
    error: str | None = None
    cached: bool = False


class Judge(Protocol):
    """Scores answers against rubrics and compares two answers."""

    label: str
    kind: Literal["llm", "offline"]
    identity: str

    async def score(self, case: JudgeCase, rubric: Rubric) -> Verdict: ...

    async def prefer(self, a: JudgeCase, b: JudgeCase, rubric: Rubric) -> Preference: ...


@dataclass(frozen=True)
class JudgeReply:
    """The judge model's reply: its text and, per leading token, {token: log-probability}."""

    text: str
    top_logprobs: list[dict[str, float]] | None = None


class JudgeTransport(Protocol):
    """One chat-completions call for the judge."""

    identity: str
    logprobs: bool

    def rate(self, messages: Sequence[BaseMessage], max_tokens: int) -> JudgeReply: ...


class ModelAccessTransport:
    """The `judge` role of `ModelAccess`: guarded, audited, errors as `ModelEndpointError`.

    `ModelAccess.complete` returns text only, so verdicts through it use the plain score.
    """

    logprobs = False

    def __init__(self, access: ModelAccess) -> None:
        self._access = access
        endpoint = access.endpoint("judge")
        self.identity = f"{endpoint.model}@{endpoint.base_url}"

    def rate(self, messages: Sequence[BaseMessage], max_tokens: int) -> JudgeReply:
        """Ask the judge model; the reply is text only."""
        return JudgeReply(self._access.complete("judge", messages, max_tokens=max_tokens))


class JudgeParseError(MedGraphError):
    """The judge answered, but not with a score or a choice."""


def parse_score(text: str, rubric: Rubric) -> int:
    """The first standalone digit of the reply that lies on the rubric's scale."""
    for match in re.finditer(r"(?<![\d.])(\d)(?!\d|\.\d)", text):
        value = int(match.group(1))
        if rubric.scale.min <= value <= rubric.scale.max:
            return value
    raise JudgeParseError(
        f"no score {rubric.scale.min}-{rubric.scale.max} in the judge's reply {text[:60]!r}"
    )


def geval_score(top_logprobs: Sequence[dict[str, float]], rubric: Rubric) -> float | None:
    """Σ k·p(k) over the scale's digits at the first position offering one (None if none does).

    Probabilities are renormalised over the scale's digits, as in G-Eval.
    """
    scale = range(rubric.scale.min, rubric.scale.max + 1)
    for position in top_logprobs:
        mass: dict[int, float] = {}
        for token, logprob in position.items():
            stripped = token.strip()
            if stripped.isdigit() and len(stripped) == 1 and int(stripped) in scale:
                mass[int(stripped)] = mass.get(int(stripped), 0.0) + math.exp(logprob)
        total = sum(mass.values())
        if total > 0:
            return sum(k * p for k, p in mass.items()) / total
    return None


def parse_choice(text: str) -> Choice:
    """A, B or T (tie) from the first letter-word of the reply."""
    match = re.search(r"\b(A|B|T|tie)\b", text.strip(), flags=re.IGNORECASE)
    if match is None:
        raise JudgeParseError(f"no choice A, B or T in the judge's reply {text[:60]!r}")
    letter = match.group(1).lower()
    return "tie" if letter in ("t", "tie") else letter  # type: ignore[return-value]


def case_prompt(case: JudgeCase) -> str:
    """The user message describing one item to the judge."""
    sources = "\n".join(f"[{i}] {s}" for i, s in enumerate(case.sources, start=1))
    parts = [f"Question:\n{case.question}"]
    if sources:
        parts.append(f"Sources:\n{sources}")
    if case.reference:
        parts.append(f"Reference answer:\n{case.reference}")
    parts.append(f"Answer to score:\n{case.answer}")
    return "\n\n".join(parts)


def pair_prompt(a: JudgeCase, b: JudgeCase) -> str:
    """The user message presenting two answers to the same question."""
    sources = "\n".join(f"[{i}] {s}" for i, s in enumerate(a.sources, start=1))
    head = f"Question:\n{a.question}" + (f"\n\nSources:\n{sources}" if sources else "")
    return f"{head}\n\nAnswer A:\n{a.answer}\n\nAnswer B:\n{b.answer}"


def _flip(choice: Choice) -> Choice:
    return {"a": "b", "b": "a", "tie": "tie"}[choice]  # type: ignore[return-value]


def combine_orders(first: Choice | None, swapped: Choice | None) -> tuple[Choice, bool]:
    """The winner and whether both orders agree (`swapped` is already mapped back)."""
    if first is None or swapped is None or first != swapped:
        return "tie", False
    return first, True


class LlmJudge:
    """Scores and compares through a chat-completions transport, at most `concurrency` at once."""

    kind: Literal["llm", "offline"] = "llm"

    def __init__(
        self, transport: JudgeTransport, *, concurrency: int = 4, max_tokens: int = 4
    ) -> None:
        self._transport = transport
        self._concurrency = concurrency
        self._limits: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
            weakref.WeakKeyDictionary()
        )
        self._max_tokens = max_tokens
        how = "G-Eval probability-weighted" if transport.logprobs else "plain score, no logprobs"
        self.label = f"LLM judge {transport.identity} ({how})"
        self.identity = f"llm:{transport.identity}"

    def _limit(self) -> asyncio.Semaphore:
        """The concurrency limit of the running event loop (each `asyncio.run` has its own)."""
        loop = asyncio.get_running_loop()
        if loop not in self._limits:
            self._limits[loop] = asyncio.Semaphore(self._concurrency)
        return self._limits[loop]

    async def _ask(self, system: str, user: str) -> JudgeReply:
        async with self._limit():
            messages = [SystemMessage(system), HumanMessage(user)]
            return await asyncio.to_thread(self._transport.rate, messages, self._max_tokens)

    async def score(self, case: JudgeCase, rubric: Rubric) -> Verdict:
        """One rubric score for one answer; a failure becomes a verdict with `error`."""
        failed = Verdict(
            item_id=case.item_id, rubric=rubric.name, score=None, method="plain", judge=self.label
        )
        try:
            reply = await self._ask(rubric.prompt(), case_prompt(case))
            weighted = geval_score(reply.top_logprobs, rubric) if reply.top_logprobs else None
            raw = weighted if weighted is not None else float(parse_score(reply.text, rubric))
        except MedGraphError as exc:
            return failed.model_copy(update={"error": f"{exc.__class__.__name__}: {exc}"})
        return Verdict(
            item_id=case.item_id,
            rubric=rubric.name,
            score=rubric.normalise(raw),
            raw=raw,
            method="geval" if weighted is not None else "plain",
            judge=self.label,
        )

    async def _choice(self, rubric: Rubric, first: JudgeCase, second: JudgeCase) -> Choice:
        system = PAIRWISE_PROMPT.format(title=rubric.title, question=rubric.question)
        return parse_choice((await self._ask(system, pair_prompt(first, second))).text)

    async def prefer(self, a: JudgeCase, b: JudgeCase, rubric: Rubric) -> Preference:
        """Ask in both orders; a win counts only when the swapped order agrees."""
        outcomes = await asyncio.gather(
            self._choice(rubric, a, b), self._choice(rubric, b, a), return_exceptions=True
        )
        errors = [o for o in outcomes if isinstance(o, BaseException)]
        for error in errors:
            if not isinstance(error, MedGraphError):
                raise error
        first = None if isinstance(outcomes[0], BaseException) else outcomes[0]
        swapped = None if isinstance(outcomes[1], BaseException) else _flip(outcomes[1])
        winner, consistent = combine_orders(first, swapped)
        return Preference(
            item_id=a.item_id,
            rubric=rubric.name,
            winner=winner,
            consistent=consistent,
            orders=(first, swapped),
            judge=self.label,
            error="; ".join(f"{e.__class__.__name__}: {e}" for e in errors) or None,
        )


async def score_all(judge: Judge, cases: Sequence[JudgeCase], rubric: Rubric) -> list[Verdict]:
    """Every case scored concurrently (the judge enforces its own concurrency limit)."""
    return list(await asyncio.gather(*(judge.score(c, rubric) for c in cases)))


async def prefer_all(
    judge: Judge, pairs: Sequence[tuple[JudgeCase, JudgeCase]], rubric: Rubric
) -> list[Preference]:
    """Every pair compared in both orders, concurrently."""
    return list(await asyncio.gather(*(judge.prefer(a, b, rubric) for a, b in pairs)))
