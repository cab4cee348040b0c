"""Wire one process's conversation runtime from settings: models, router, agents, checkpointer.

Usage:
    with Runtime(get_settings()) as rt:
        for event in rt.turn("t1", "hello"):
            ...
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Literal

import numpy as np
from langchain_core.messages import AnyMessage
from langgraph.graph.state import CompiledStateGraph
from rich.console import Console
from transformers.utils import logging as transformers_logging

from agents.documents import DocumentsAgent
from agents.escalate import EscalateAgent
from agents.general import GeneralAgent
from agents.model_access import ModelAccess
from agents.policy import PolicyAgent
from agents.radiology import RadiologyAgent
from agents.registry import AgentRegistry
from agents.supervisor import RoutingThresholds, SupervisorRouter, llm_verifier
from agents.tool_calls import ToolCalls
from agents.tutor import TutorAgent
from app.docs_cli import store_uri
from app.guard_setup import build_guards
from app.model_server import EmbeddedModelServer
from app.models import build_model_access
from app.policy_setup import build_policy
from app.radiology_setup import build_radiology_service
from app.settings import Settings
from app.tutor_setup import open_tutor
from graphs.approvals import PendingApproval, pending_approvals, resume_command
from graphs.audit_hooks import GraphAuditor
from graphs.checkpoint_types import graph_record_types
from graphs.guard_nodes import GraphGuards
from graphs.supervisor import DocumentsMatch, build_supervisor_graph
from graphs.turns import TurnEvent, history, pending_retry, stream_turn
from state.audit import open_audit
from state.checkpointer import open_checkpointer
from state.errors import MedGraphError
from state.schema import Attachment
from tools.guards.chunk_screen import ChunkScreener
from tools.llm.engine import load_local_llm
from tools.models.embedder import MiniLMEmbedder
from tools.models.registry import ModelRegistry
from tools.rag.hybrid_search import ChunkFilter, HybridRetriever, RetrievedChunk
from tools.rag.store import ChunkStore
from tools.routing.intent_classifier import IntentClassifier
from tools.tutor.engine import Tutor


@dataclass(frozen=True)
class ThreadSummary:
    """A thread as `/threads` lists it."""

    thread_id: str
    updated: datetime | None
    checkpoints: int


def quiet_model_libraries() -> None:
    """Keep transformers' load-time progress bars and notices out of the user's terminal."""
    transformers_logging.disable_progress_bar()
    transformers_logging.set_verbosity_error()


def build_agent_registry(
    access: ModelAccess,
    retriever: HybridRetriever,
    top_k: int,
    tool_calls: ToolCalls,
    policy: PolicyAgent,
    tutor: Tutor,
    radiology: RadiologyAgent,
) -> AgentRegistry:
    """Every agent this build installs; specialists register here as they land."""
    registry = AgentRegistry()
    registry.register(EscalateAgent())
    registry.register(GeneralAgent(access, registry.installed))
    registry.register(DocumentsAgent(access, retriever, k=top_k, tool_calls=tool_calls))
    registry.register(policy)
    registry.register(TutorAgent(tutor))
    registry.register(radiology)
    return registry


def screened(screen: ChunkScreener) -> ChunkFilter:
    """A retriever chunk filter that quarantines chunks the injection guard flags."""

    def keep(query: str, chunks: list[RetrievedChunk]) -> list[RetrievedChunk]:
        if not chunks:
            return chunks
        vectors = np.stack([c.vector for c in chunks])
        return screen.screen(chunks, text_of=lambda c: c.chunk.text, vectors=vectors).kept

    return keep


def documents_probe(retriever: HybridRetriever, threshold: float) -> DocumentsMatch:
    """Whether a tenant's documents hold a chunk at least `threshold` similar to a question; a
    store that cannot be searched counts as no match, so routing never fails on it."""

    def matches(tenant_id: str, text: str) -> bool:
        try:
            return retriever.best_similarity(text, tenant_id) >= threshold
        except MedGraphError:
            return False

    return matches


class Runtime:
    """The models, graph and checkpointer of one process, opened and closed together."""

    def __init__(self, settings: Settings, console: Console | None = None) -> None:
        self.settings = settings
        self._console = console or Console(stderr=True)
        self._stack = ExitStack()
        self.models = ModelRegistry(settings.local_device)
        self.graph: CompiledStateGraph
        self.checkpointer_url = settings.resolved_checkpoint_url
        self.embedded_url: str | None = None

    def __enter__(self) -> Runtime:
        try:
            self._open()
        except BaseException:
            self._stack.close()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stack.close()

    def _open(self) -> None:
        quiet_model_libraries()
        settings = self.settings
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        embedded_url = None
        if settings.any_embedded_role:
            engine = load_local_llm(
                self.models,
                settings.cache_dir,
                settings.local_llm_quantize,
                settings.local_llm_threads,
                self._console,
            )
            server = EmbeddedModelServer(engine, model_name=settings.model_name)
            embedded_url = self._stack.enter_context(server).base_url
            self.embedded_url = embedded_url
        audit = self._stack.enter_context(
            open_audit(settings.resolved_audit_url, fail_open=settings.audit_fail_open)
        )
        self.auditor = GraphAuditor(audit)
        with self._console.status("Loading the intent router and guards"):
            embedder = self.models.get("minilm", MiniLMEmbedder.load)
            guards = build_guards(settings, embedder, observer=self.auditor.guard)
            self.guards = guards
            classifier = IntentClassifier.from_default(guards.embeddings)
        access = build_model_access(
            settings, embedded_url, observer=self.auditor.model_call, guard=guards.call_guard
        )
        router = SupervisorRouter(
            classifier,
            RoutingThresholds(
                direct=settings.route_direct_threshold,
                verify=settings.route_verify_threshold,
                clinical_margin=settings.route_clinical_margin,
            ),
            llm_verifier(access),
        )
        store = ChunkStore(store_uri(settings))
        self._stack.callback(store.close)
        retriever = HybridRetriever(
            store, guards.embeddings, rrf_k=settings.rag_rrf_k, chunk_filter=screened(guards.chunks)
        )
        tool_calls = ToolCalls(self.auditor.tool_call)
        tutor = self._stack.enter_context(open_tutor(settings, guards.embeddings.embed, access))
        with self._console.status("Checking the policy rules and indexing the policy corpus"):
            policy = build_policy(
                settings, access, store, retriever, self.auditor, tool_calls, learners=tutor.store
            )
        radiology_service = build_radiology_service(settings, self.models)
        self._stack.callback(radiology_service.close)
        radiology = RadiologyAgent(access, radiology_service, tool_calls=tool_calls)
        self.agents = build_agent_registry(
            access, retriever, settings.rag_top_k, tool_calls, policy.agent, tutor, radiology
        )
        checkpointer = self._stack.enter_context(
            open_checkpointer(self.checkpointer_url, record_types=graph_record_types())
        )
        graph_guards = GraphGuards(guards.input, guards.output, settings.guard_route_max_chars)
        self.graph = build_supervisor_graph(
            router,
            self.agents,
            self.auditor,
            graph_guards,
            agent_nodes={"policy": policy.node},
            awaiting=lambda user, tenant: (
                "tutor" if tutor.has_open_question(user, tenant) else None
            ),
            documents_match=documents_probe(retriever, settings.route_documents_similarity),
        ).compile(checkpointer=checkpointer)

    def turn(
        self, thread_id: str, text: str | None, attachments: Sequence[Attachment] = ()
    ) -> Iterator[TurnEvent]:
        """Stream one turn (`text=None` retries the thread's unfinished turn).

        `attachments` (images for radiology, stored by `app.attachments`) belong to this turn.
        """
        return stream_turn(
            self.graph,
            thread_id=thread_id,
            text=text,
            user_id=self.settings.user_id,
            tenant_id=self.settings.tenant_id,
            auditor=self.auditor,
            restore_phi=self.settings.guard_restore_phi,
            attachments=attachments,
            user_role=self.settings.user_role,
        )

    def pending(self, thread_id: str) -> list[PendingApproval]:
        """The gated actions the thread is waiting to have approved."""
        return pending_approvals(self.graph, thread_id)

    def decide(
        self,
        thread_id: str,
        decision: Literal["approve", "reject"],
        note: str = "",
        request_id: str | None = None,
    ) -> Iterator[TurnEvent]:
        """Answer the thread's waiting approval as this user, then resume the paused turn.

        The reply is checked first (something pending, the right request, an approver role),
        so a refused reply raises here and changes nothing.
        """
        command = resume_command(
            self.pending(thread_id),
            approver=self.settings.user_id,
            role=self.settings.user_role,
            decision=decision,
            note=note,
            request_id=request_id,
        )
        return stream_turn(
            self.graph,
            thread_id=thread_id,
            text=None,
            user_id=self.settings.user_id,
            tenant_id=self.settings.tenant_id,
            auditor=self.auditor,
            restore_phi=self.settings.guard_restore_phi,
            user_role=self.settings.user_role,
            resume=command,
        )

    def history(self, thread_id: str) -> list[AnyMessage]:
        """The thread's messages, oldest first."""
        return history(self.graph, thread_id)

    def pending_retry(self, thread_id: str) -> bool:
        """Whether the thread's last turn did not finish."""
        return pending_retry(self.graph, thread_id)

    def threads(self, limit: int = 20) -> list[ThreadSummary]:
        """Threads in the checkpointer, newest first."""
        seen: dict[str, ThreadSummary] = {}
        checkpointer = self.graph.checkpointer
        if checkpointer is None or checkpointer is True or checkpointer is False:
            return []
        for item in checkpointer.list(None):
            thread_id = str(item.config["configurable"]["thread_id"])
            ts = (
                datetime.fromisoformat(item.checkpoint["ts"]) if item.checkpoint.get("ts") else None
            )
            known = seen.get(thread_id)
            if known is None:
                seen[thread_id] = ThreadSummary(thread_id, ts, 1)
            else:
                newest = max((t for t in (known.updated, ts) if t is not None), default=None)
                seen[thread_id] = ThreadSummary(thread_id, newest, known.checkpoints + 1)
        ordered = sorted(seen.values(), key=lambda t: t.updated or datetime.min, reverse=True)
        return ordered[:limit]
