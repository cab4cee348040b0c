"""The documents agent: cited answers from retrieved chunks only, grounding-checked, that abstain.

Usage:
    agent = DocumentsAgent(access, HybridRetriever(store, embedder))
    answer = agent.run(AgentTask(intent="documents", text="What blunts the costophrenic angle?",
                                 order=0, tenant_id="acme"))

The tools do the substantive work, so a weak composer model cannot make the answer wrong:
1. Hybrid retrieval for the question, within the tenant (and optional collection).
2. Abstain ("The documents do not say…", with what was searched) when the best chunk's cosine
   or the best sentence's support is below its threshold; each question term that occurs in
   none of the retrieved chunks raises the sentence threshold, and too many such terms abstain.
3. The composer writes an answer from numbered sources, citing `[n]` after each claim.
4. Grounding: every sentence must cite a retrieved chunk that supports it (lexically, or
   semantically with some shared words); unsupported sentences are removed.
5. Without a composer (`access=None`), or when generation fails validation (no valid sentence
   left, or too many removed), the answer is extractive: the best supporting sentences quoted,
   each with its citation.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from typing import Literal

from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage

from agents.model_access import ModelAccess
from agents.registry import AgentTask
from agents.tool_calls import ToolCalls
from state.schema import AgentAnswer, Intent
from tools.rag.grounding import ScoredSentence, SupportScorer, missing_terms, split_sentences
from tools.rag.hybrid_search import HybridRetriever, RetrievedChunk, SearchFilters

log = logging.getLogger(__name__)

AnswerMode = Literal["generated", "extractive", "abstained"]
ABSTAIN_OPENING = "The documents do not say"
PROMPT = (
    "Answer the question using only the numbered sources. After each sentence, cite the "
    "source it comes from, like [1]. If the sources do not answer it, say so."
)
EXAMPLE = (
    "Sources:\n[1] Guide > Ventilation\nThe ward is ventilated six times per hour.\n"
    "[2] Guide > Fire\nFire doors are closed at night.\n\n"
    "Question: How often is the ward ventilated?\n"
    "Answer: The ward is ventilated six times per hour [1].\n\n"
)
_CITE = re.compile(r"\s*\[(\d+)\]")


@dataclass(frozen=True)
class Citation:
    """One cited chunk: its label and id."""

    label: str
    chunk_id: str


@dataclass(frozen=True)
class DocumentAnswer:
    """What the agent answered, how, and from which chunks."""

    text: str
    mode: AnswerMode
    citations: list[Citation] = field(default_factory=list)
    retrieved: list[RetrievedChunk] = field(default_factory=list)
    confidence: float = 0.0


class DocumentsAgent:
    """Answers questions from the tenant's ingested documents, with citations, or abstains."""

    name: Intent = "documents"

    def __init__(
        self,
        access: ModelAccess | None,
        retriever: HybridRetriever,
        *,
        k: int = 5,
        collection: str | None = None,
        min_similarity: float = 0.3,
        min_sentence_score: float = 0.45,
        missing_term_penalty: float = 0.07,
        max_missing_terms: int = 3,
        max_removed: float = 0.5,
        max_quotes: int = 2,
        max_tokens: int = 160,
        tool_calls: ToolCalls | None = None,
    ) -> None:
        self._access = access
        self._retriever = retriever
        self._tools = tool_calls or ToolCalls()
        self._support = SupportScorer(retriever.embed)
        self.k = k
        self.collection = collection
        self.min_similarity = min_similarity
        self.min_sentence_score = min_sentence_score
        self.missing_term_penalty = missing_term_penalty
        self.max_missing_terms = max_missing_terms
        self.max_removed = max_removed
        self.max_quotes = max_quotes
        self.max_tokens = max_tokens

    def run(self, task: AgentTask) -> AgentAnswer:
        """Answer one documents task for the task's tenant."""
        result = self.answer(task.text, task.tenant_id)
        return AgentAnswer(
            order=task.order,
            agent=self.name,
            text=result.text,
            citations=list(dict.fromkeys(c.label for c in result.citations)),
        )

    def answer(self, question: str, tenant_id: str) -> DocumentAnswer:
        """Retrieve, check confidence, generate, ground; extract or abstain when needed."""
        retrieval = self._tools.run(
            "search_documents",
            lambda: self._retriever.search(
                question, tenant_id, k=self.k, filters=SearchFilters(collection=self.collection)
            ),
            args={
                "query": question,
                "tenant": tenant_id,
                "k": self.k,
                "collection": self.collection,
            },
            summary=lambda r: {
                "results": len(r.chunks),
                "chunk_ids": [c.chunk.chunk_id for c in r.chunks],
            },
        )
        items = retrieval.chunks
        sentences = self._support.sentences(question, retrieval.query_vector, items)
        top_similarity = max((i.similarity for i in items), default=0.0)
        best = sentences[0].score if sentences else 0.0
        missing = len(missing_terms(question, [i.chunk.text for i in items]))
        needed = self.min_sentence_score + self.missing_term_penalty * missing
        confidence = min(top_similarity / self.min_similarity, best / needed)
        if confidence < 1.0 or missing >= self.max_missing_terms:
            log.info(
                "documents_abstain top_similarity=%.3f best_sentence=%.3f missing_terms=%d",
                top_similarity,
                best,
                missing,
            )
            return DocumentAnswer(
                self._abstain_text(question, items), "abstained", [], items, confidence
            )
        if self._access is not None:
            generated = self._generated(self._access, question, items)
            if generated is not None:
                text, citations = generated
                return DocumentAnswer(text, "generated", citations, items, confidence)
        text, citations = self._extractive(sentences)
        return DocumentAnswer(text, "extractive", citations, items, confidence)

    def _generated(
        self, access: ModelAccess, question: str, items: list[RetrievedChunk]
    ) -> tuple[str, list[Citation]] | None:
        """The composer's answer with unsupported sentences removed; None if it fails."""
        sources = "\n".join(
            f"[{n}] {' > '.join(i.chunk.section) or i.chunk.title}\n{i.chunk.body}"
            for n, i in enumerate(items, start=1)
        )
        messages: list[BaseMessage] = [
            SystemMessage(PROMPT),
            HumanMessage(f"{EXAMPLE}Sources:\n{sources}\n\nQuestion: {question}\nAnswer:"),
        ]
        raw = access.complete(
            "composer", messages, max_tokens=self.max_tokens, stop=["\n\n", "Question:"]
        )
        claims = split_sentences(raw.strip())
        kept: list[str] = []
        citations: list[Citation] = []
        for claim in claims:
            cited = [int(n) for n in _CITE.findall(claim)]
            plain = _CITE.sub("", claim).strip()
            valid = [items[n - 1] for n in cited if 1 <= n <= len(items)]
            backing = [i for i in valid if self._support.supports(plain, i.chunk)]
            if not plain or not backing:
                continue
            labels = " ".join(dict.fromkeys(i.label for i in backing))
            kept.append(f"{plain.rstrip('.')}. {labels}")
            citations += [Citation(i.label, i.chunk.chunk_id) for i in backing]
        removed = 1 - len(kept) / len(claims) if claims else 1.0
        log.info("documents_grounding claims=%d kept=%d", len(claims), len(kept))
        if not kept or removed > self.max_removed:
            return None
        return " ".join(kept), citations

    def _extractive(self, sentences: list[ScoredSentence]) -> tuple[str, list[Citation]]:
        """Quote the best supporting sentences, each with its citation."""
        best = sentences[0]
        chosen = [best]
        for candidate in sentences[1:]:
            if len(chosen) >= self.max_quotes:
                break
            same_chunk = candidate.item.chunk.chunk_id == best.item.chunk.chunk_id
            if same_chunk and candidate.score >= 0.85 * best.score:
                chosen.append(candidate)
        quotes = " ".join(f"“{s.text}” {s.item.label}" for s in chosen)
        citations = [Citation(s.item.label, s.item.chunk.chunk_id) for s in chosen]
        return f"From the documents: {quotes}", citations

    def _abstain_text(self, question: str, items: list[RetrievedChunk]) -> str:
        scope = f"the {self.collection!r} collection" if self.collection else "your documents"
        nearest = list(dict.fromkeys(i.chunk.source for i in items))[:3]
        looked = (
            f" The closest passages were in {', '.join(nearest)}, and none of them answers it."
            if nearest
            else " No document has been ingested yet (`medgraph ingest PATH`)."
        )
        return f"{ABSTAIN_OPENING} this. I searched {scope} for “{question.strip()}”.{looked}"
