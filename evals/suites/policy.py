"""Policy suite: the deterministic evaluator's decisions, and cited answers to policy questions.

Decisions: each case of `policy_decisions.jsonl` (action, role, data class, destination,
attributes) was labelled by hand from `tools/policy/rules.yaml` with its expected effect, the
rules that decide it and, for needs_approval, the approver roles. Answers: the questions of
`policy_qa.jsonl` go to the policy agent in extractive mode (no composer model), over the
shipped corpus indexed into a Milvus Lite file in the run's work directory; the metric
definitions are those of `tests/agents/test_policy_qa.py` (an answer is correctly cited when it
cites at least one gold section).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from agents.policy import PolicyAgent
from evals.datasets import load_jsonl
from evals.harness import EvalContext, Suite
from evals.results import DatasetRef, MetricResult, SuiteResult, TableData
from evals.stats import mean_rows, ratio_rows
from state.schema import Effect, Role
from tools.policy.actions import ActionName, DataClass, Destination
from tools.policy.corpus import PolicyCorpus
from tools.policy.evaluator import PolicyEvaluator
from tools.policy.index import index_policies
from tools.policy.rules import AttributeValue, load_rules
from tools.policy.schema import ActionRequest, PolicyDecision
from tools.rag.hybrid_search import HybridRetriever
from tools.rag.store import ChunkStore


class DecisionCase(BaseModel):
    """A request and the decision the rules should give it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    action: ActionName
    role: Role
    data_class: DataClass
    destination: Destination
    attributes: dict[str, AttributeValue] = Field(default_factory=dict)
    effect: Effect
    rule_ids: list[str]
    approvers: list[Role] = Field(default_factory=list)

    def request(self) -> ActionRequest:
        """The request the evaluator sees."""
        return ActionRequest(
            action=self.action,
            role=self.role,
            data_class=self.data_class,
            destination=self.destination,
            attributes=self.attributes,
        )


class PolicyQuestion(BaseModel):
    """A policy question, whether the corpus answers it, and the sections that do."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    question: str
    answerable: bool
    gold_sections: list[str]


def _decision_metrics(
    ctx: EvalContext, corpus: PolicyCorpus
) -> tuple[DatasetRef, list[MetricResult], TableData]:
    ref, cases = load_jsonl("policy_decisions", DecisionCase)
    evaluator = PolicyEvaluator(load_rules(corpus_ids=corpus.ids()))
    decisions: list[PolicyDecision] = [evaluator.evaluate(c.request()) for c in cases]
    ids = [c.id for c in cases]
    gated = [c.effect == "needs_approval" for c in cases]
    pairs = list(zip(cases, decisions, strict=True))
    metrics = [
        ctx.metric(
            "decision_accuracy",
            "ratio",
            ids,
            mean_rows(d.effect == c.effect for c, d in pairs),
            note="effect (allow / needs_approval / deny) matches the hand label",
        ),
        ctx.metric(
            "rule_accuracy",
            "ratio",
            ids,
            mean_rows(set(d.rule_ids) == set(c.rule_ids) for c, d in pairs),
            note="the deciding rule ids are exactly the labelled ones",
        ),
        ctx.metric(
            "approver_accuracy",
            "ratio",
            ids,
            ratio_rows(
                [
                    g and set(d.approvers) == set(c.approvers)
                    for g, (c, d) in zip(gated, pairs, strict=True)
                ],
                gated,
            ),
            note="needs_approval cases whose approver roles match the label",
        ),
    ]
    effects = TableData(
        title="Policy decisions by expected effect",
        columns=["expected", "cases", "correct effect", "correct rules"],
        rows=[
            [
                effect,
                str(sum(c.effect == effect for c in cases)),
                str(sum(c.effect == effect and d.effect == effect for c, d in pairs)),
                str(
                    sum(c.effect == effect and set(d.rule_ids) == set(c.rule_ids) for c, d in pairs)
                ),
            ]
            for effect in ("allow", "needs_approval", "deny")
        ],
    )
    return ref, metrics, effects


def policy_store(ctx: EvalContext, corpus: PolicyCorpus) -> ChunkStore:
    """The shipped policy corpus indexed once per run (raw embedder, as the runtime indexes)."""

    def build() -> ChunkStore:
        workdir = ctx.config.workdir / "policy"
        workdir.mkdir(parents=True, exist_ok=True)
        store = ChunkStore(str(workdir / "policy.db"))
        ctx.stack.callback(store.close)
        index_policies(store, ctx.embedder, corpus)
        return store

    return ctx.shared("policy_store", build)


def run(ctx: EvalContext) -> SuiteResult:
    """Score the evaluator's decisions and the agent's cited answers."""
    corpus = PolicyCorpus.load()
    decisions_ref, decision_metrics, effects = _decision_metrics(ctx, corpus)
    qa_ref, questions = load_jsonl("policy_qa", PolicyQuestion)
    agent = PolicyAgent(None, HybridRetriever(policy_store(ctx, corpus), ctx.embeddings), corpus)
    answers = [agent.answer(q.question) for q in questions]
    ids = [q.id for q in questions]
    answerable = [q.answerable for q in questions]
    abstained = [a.mode == "abstained" for a in answers]
    answered = [q and not x for q, x in zip(answerable, abstained, strict=True)]
    cited_gold = [
        ok and bool(set(a.citations) & set(q.gold_sections))
        for q, a, ok in zip(questions, answers, answered, strict=True)
    ]
    qa_metrics = [
        ctx.metric(
            "answer_rate",
            "ratio",
            ids,
            ratio_rows(answered, answerable),
            note="answerable questions the agent answered (extractive, no LLM)",
        ),
        ctx.metric(
            "citation_accuracy",
            "ratio",
            ids,
            ratio_rows(cited_gold, answered),
            note="answered questions citing at least one gold section",
        ),
        ctx.metric(
            "abstention_accuracy",
            "ratio",
            ids,
            ratio_rows(
                [x and not q for q, x in zip(answerable, abstained, strict=True)],
                [not q for q in answerable],
            ),
            note="unanswerable questions the agent abstained on",
        ),
    ]
    return SuiteResult(
        name="policy",
        title="Policy (decisions and cited answers)",
        agent="policy",
        datasets=[decisions_ref, qa_ref],
        metrics=decision_metrics + qa_metrics,
        tables=[effects],
        notes=[
            f"{len(decision_metrics[0].item_ids)} hand-labelled decisions against "
            f"tools/policy/rules.yaml; {sum(answerable)} answerable and "
            f"{len(questions) - sum(answerable)} unanswerable policy questions.",
        ],
    )


SUITE = Suite(
    name="policy",
    title="Policy (decisions and cited answers)",
    agent="policy",
    run=run,
    requires=("agents.policy",),
    order=40,
)
