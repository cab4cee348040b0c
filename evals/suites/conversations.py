"""Conversations suite: multi-turn conversations that cross agents, routed turn by turn.

Each turn goes through the deployed input guard (one PHI vault per conversation) and then the
supervisor's router with its default confidence bands and no LLM verifier (the offline
configuration: a middle-band message gets a clarifying question), with the attached-image rule
applied. A turn's outcome is the set of planned intents, `blocked` when the guard stopped it,
or `clarify`. Expected routes for agents not yet installed are still scored: the graph routes
to every intent whether or not its agent is installed. The router sees one message at a time,
so a turn that only makes sense with the conversation before it ("what do I do") is scored as
the conversation requires, and counts against a history-blind router.
"""

from __future__ import annotations

import time
from collections import Counter

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from agents.supervisor import RoutingThresholds, SupervisorRouter
from evals.datasets import load_jsonl
from evals.harness import EvalContext, Suite
from evals.results import ConfusionData, SuiteResult, TableData
from evals.stats import macro_f1_rows, mean_rows, ratio_rows
from graphs.supervisor import with_image_route
from state.schema import INTENTS, Attachment, Intent, PhiVault

BLOCKED = "blocked"
CLARIFY = "clarify"
LABELS = (*INTENTS, BLOCKED)
IMAGE = Attachment(
    kind="image",
    path="eval-phantom.png",
    name="chest.png",
    sha256="0" * 64,
    size_bytes=1,
)


class Turn(BaseModel):
    """One user message and where it should go."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    text: str = Field(min_length=1)
    intents: list[Intent] = Field(default_factory=list)
    image: bool = False
    blocked: bool = False

    @model_validator(mode="after")
    def _one_outcome(self) -> Turn:
        if self.blocked == bool(self.intents):
            raise ValueError("a turn is either blocked or has intents, not both or neither")
        return self

    @property
    def expected(self) -> set[str]:
        """The expected outcome as a set of labels."""
        return {BLOCKED} if self.blocked else set(self.intents)


class Conversation(BaseModel):
    """A conversation whose turns cross at least two agents."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1)
    title: str
    about: str
    turns: list[Turn] = Field(min_length=2)

    @model_validator(mode="after")
    def _crosses_agents(self) -> Conversation:
        if len({i for t in self.turns for i in t.intents}) < 2:
            raise ValueError(f"conversation {self.id} must cross at least two agents")
        return self


def run(ctx: EvalContext) -> SuiteResult:
    """Route every turn of every conversation and score the routes."""
    ref, conversations = load_jsonl("conversations", Conversation)
    config = ctx.config
    router = SupervisorRouter(
        ctx.classifier,
        RoutingThresholds(config.route_direct, config.route_verify, config.route_clinical_margin),
        verifier=None,
    )
    ids, expected, predicted, latencies, methods = [], [], [], [], []
    for conversation in conversations:
        vault = PhiVault(owner="eval")
        for number, turn in enumerate(conversation.turns, start=1):
            started = time.perf_counter()
            verdict = ctx.guards.input.check(turn.text, vault)
            if verdict.action == "block":
                outcome, method = {BLOCKED}, "guard"
            elif verdict.action == "escalate":
                outcome, method = {"escalate"}, "guard"
            else:
                attachments = [IMAGE] if turn.image else []
                plan = with_image_route(router.route(verdict.text), verdict.text, attachments)
                outcome = {t.intent for t in plan.tasks} or {CLARIFY}
                method = plan.method
            latencies.append((time.perf_counter() - started) * 1000)
            ids.append(f"{conversation.id}#{number}")
            expected.append(turn.expected)
            predicted.append(outcome)
            methods.append(method)
    right = [e == p for e, p in zip(expected, predicted, strict=True)]
    per_conversation: dict[str, list[bool]] = {}
    for item_id, ok in zip(ids, right, strict=True):
        per_conversation.setdefault(item_id.split("#")[0], []).append(ok)
    singles = [(e, p) for e, p in zip(expected, predicted, strict=True) if len(e) == 1]
    predicted_labels = [*LABELS, CLARIFY, "multiple"]
    matrix = np.zeros((len(LABELS), len(predicted_labels)), dtype=int)
    for e, p in singles:
        column = next(iter(p)) if len(p) == 1 else "multiple"
        matrix[LABELS.index(next(iter(e))), predicted_labels.index(column)] += 1
    metrics = [
        ctx.metric(
            "turn_route_accuracy",
            "ratio",
            ids,
            mean_rows(right),
            note="planned intents (or blocked) exactly as expected",
        ),
        ctx.metric(
            "turn_macro_f1",
            "macro_f1",
            ids,
            macro_f1_rows(expected, predicted, LABELS),
            note="over the six intents and 'blocked'; a clarifying question is a miss",
        ),
        ctx.metric(
            "conversation_success",
            "ratio",
            list(per_conversation),
            mean_rows(all(v) for v in per_conversation.values()),
            note="every turn of the conversation routed as expected",
        ),
        ctx.metric(
            "guard_false_positive_rate",
            "ratio",
            ids,
            ratio_rows(
                [
                    BLOCKED in p and BLOCKED not in e
                    for e, p in zip(expected, predicted, strict=True)
                ],
                [BLOCKED not in e for e in expected],
            ),
            higher_is_better=False,
            note="benign turns the input guard blocked",
        ),
        ctx.metric(
            "clarify_rate",
            "ratio",
            ids,
            mean_rows(CLARIFY in p for p in predicted),
            higher_is_better=False,
            note="turns answered with a clarifying question",
        ),
        ctx.metric(
            "latency_ms",
            "ratio",
            ids,
            mean_rows(latencies),
            higher_is_better=False,
            unit="ms",
            note=f"input guard + routing per turn, no LLM; p50 "
            f"{np.percentile(latencies, 50):.1f} ms, p95 {np.percentile(latencies, 95):.1f} ms",
        ),
    ]
    wrong = [
        [i, ",".join(sorted(e)), ",".join(sorted(p)), m]
        for i, e, p, m, ok in zip(ids, expected, predicted, methods, right, strict=True)
        if not ok
    ]
    return SuiteResult(
        name="conversations",
        title="Multi-turn conversations (routing per turn)",
        agent="supervisor",
        datasets=[ref],
        metrics=metrics,
        confusion=[
            ConfusionData(
                name="conversation turns",
                labels=list(LABELS),
                predicted_labels=predicted_labels,
                matrix=matrix.tolist(),
            )
        ],
        tables=[
            TableData(
                title=f"Turns not routed as expected ({len(wrong)})",
                columns=["turn", "expected", "got", "method"],
                rows=wrong,
            )
        ],
        notes=[
            f"{len(conversations)} conversations, {len(ids)} turns; expected labels "
            f"{dict(Counter(label for e in expected for label in e))}.",
            "Router without an LLM verifier: middle-band turns get a clarifying question.",
        ],
    )


SUITE = Suite(
    name="conversations",
    title="Multi-turn conversations (routing per turn)",
    agent="supervisor",
    run=run,
    order=40,
)
