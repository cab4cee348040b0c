"""Build the policy agent, its gated actions and the approval subgraph from settings.

Usage:
    policy = build_policy(settings, access, store, retriever, auditor, tool_calls)
    registry.register(policy.agent)
    build_supervisor_graph(..., agent_nodes={"policy": policy.node})
"""

from __future__ import annotations

from dataclasses import dataclass

from langgraph.graph.state import CompiledStateGraph

from agents.model_access import ModelAccess
from agents.policy import PolicyAgent
from agents.tool_calls import ToolCalls
from app.settings import Settings
from graphs.approvals import build_policy_graph
from graphs.audit_hooks import GraphAuditor
from tools.guards.phi import PhiRedactor
from tools.policy.corpus import PolicyCorpus
from tools.policy.evaluator import PolicyEvaluator
from tools.policy.gated_actions import GatedActions, LearnerRecords
from tools.policy.index import index_policies
from tools.policy.rules import RULES_FILE, load_rules
from tools.rag.hybrid_search import HybridRetriever
from tools.rag.store import ChunkStore

PATIENT_COPIES = "patients"
EXPORTS = "exports"


@dataclass(frozen=True)
class PolicySetup:
    """The policy agent (for the registry) and its subgraph (the graph's `policy` node)."""

    agent: PolicyAgent
    node: CompiledStateGraph


def build_policy(
    settings: Settings,
    access: ModelAccess,
    store: ChunkStore,
    retriever: HybridRetriever,
    auditor: GraphAuditor,
    tool_calls: ToolCalls,
    learners: LearnerRecords | None = None,
) -> PolicySetup:
    """Load and check the corpus and rules, index the corpus, and wire the gated actions.

    `learners` is the tutor's learner store; without it, erasure answers that it is unavailable.
    """
    corpus = PolicyCorpus.load()
    rules = load_rules(settings.policy_rules or RULES_FILE, corpus_ids=corpus.ids())
    index_policies(store, retriever.embedder, corpus)
    agent = PolicyAgent(access, retriever, corpus, k=settings.rag_top_k, tool_calls=tool_calls)
    actions = GatedActions(
        PolicyEvaluator(rules),
        outbox_dir=settings.resolved_outbox_dir / PATIENT_COPIES,
        export_dir=settings.resolved_outbox_dir / EXPORTS,
        redactor=PhiRedactor(),
        learners=learners,
        restore_phi=settings.guard_restore_phi,
    )
    return PolicySetup(agent, build_policy_graph(agent, actions, auditor))
