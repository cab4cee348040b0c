"""Documents suite: retrieval, abstention and citations on the QA set, and judged answer quality.

The demo corpus and the generated handbook PDF are ingested into a Milvus Lite file in the
run's work directory (with the raw embedder, as `medgraph ingest` does); queries use the guarded
shared embeddings, as the runtime does. The agent runs without a composer model (extractive,
cited answers) and without the runtime's injection screen on chunks, so the numbers do not
depend on a language model. Metric definitions are those of `evals/documents.py`; the judge
scores every answered question for faithfulness to its cited chunks, relevance to the question
and gold answer, and clinical safety.
"""

from __future__ import annotations

import time

import numpy as np

from agents.documents import DocumentAnswer, DocumentsAgent
from evals.datasets import dataset
from evals.documents import EVAL_TENANT, build_eval_store, load_qa_set, ndcg_at_k, recall_at_k
from evals.harness import EvalContext, Suite
from evals.judge import JudgeCase
from evals.results import ItemOutput, MetricResult, SuiteResult, TableData
from evals.stats import mean_rows, ratio_rows
from tools.rag.hybrid_search import HybridRetriever
from tools.rag.store import ChunkStore

K = 5


def eval_store(ctx: EvalContext) -> ChunkStore:
    """The ingested eval corpus, built once per run and closed with the context."""

    def build() -> ChunkStore:
        workdir = ctx.config.workdir / "documents"
        workdir.mkdir(parents=True, exist_ok=True)
        store = ChunkStore(str(workdir / "eval.db"))
        ctx.stack.callback(store.close)
        build_eval_store(store, ctx.embedder, workdir)
        return store

    return ctx.shared("documents_store", build)


def _cited_texts(result: DocumentAnswer) -> list[str]:
    cited = {c.chunk_id for c in result.citations}
    return [r.chunk.text for r in result.retrieved if r.chunk.chunk_id in cited]


def run(ctx: EvalContext) -> SuiteResult:
    """Score retrieval per mode, the agent's answers, and the judged answer quality."""
    ref, path = dataset("documents_qa")
    items = load_qa_set(path)
    store = eval_store(ctx)
    ids = [i.id for i in items]
    answerable = [i.answerable for i in items]
    metrics: list[MetricResult] = []
    modes = TableData(
        title=f"Retrieval by mode (answerable questions, k={K})",
        columns=["mode", f"recall@{K}", f"nDCG@{K}"],
        rows=[],
    )
    for mode in ("hybrid", "dense", "bm25"):
        retriever = HybridRetriever(store, ctx.embeddings, mode=mode)
        recall, ndcg = [], []
        for item in items:
            ranked = [
                c.chunk.chunk_id for c in retriever.search(item.question, EVAL_TENANT, k=K).chunks
            ]
            recall.append(recall_at_k(ranked, item.gold_chunks, K) if item.answerable else 0.0)
            ndcg.append(ndcg_at_k(ranked, item.gold_chunks, K) if item.answerable else 0.0)
        suffix = "" if mode == "hybrid" else f"_{mode}"
        recall_metric = ctx.metric(
            f"recall@{K}{suffix}", "ratio", ids, ratio_rows(recall, answerable)
        )
        ndcg_metric = ctx.metric(f"ndcg@{K}{suffix}", "ratio", ids, ratio_rows(ndcg, answerable))
        metrics += [recall_metric, ndcg_metric]
        modes.rows.append([mode, f"{recall_metric.value:.3f}", f"{ndcg_metric.value:.3f}"])
    agent = DocumentsAgent(None, HybridRetriever(store, ctx.embeddings), k=K)
    results: list[DocumentAnswer] = []
    latencies = []
    for item in items:
        started = time.perf_counter()
        results.append(agent.answer(item.question, EVAL_TENANT))
        latencies.append((time.perf_counter() - started) * 1000)
    abstained = [r.mode == "abstained" for r in results]
    answered = [a and not x for a, x in zip(answerable, abstained, strict=True)]
    correct_citations = [
        sum(c.chunk_id in i.gold_chunks for c in r.citations) if ok else 0
        for i, r, ok in zip(items, results, answered, strict=True)
    ]
    citations = [len(r.citations) if ok else 0 for r, ok in zip(results, answered, strict=True)]
    metrics += [
        ctx.metric(
            "abstention_accuracy",
            "ratio",
            ids,
            ratio_rows(
                [x and not a for a, x in zip(answerable, abstained, strict=True)],
                [not a for a in answerable],
            ),
            note="unanswerable questions the agent abstained on",
        ),
        ctx.metric(
            "answer_rate",
            "ratio",
            ids,
            ratio_rows(answered, answerable),
            note="answerable questions the agent answered",
        ),
        ctx.metric(
            "citation_accuracy",
            "ratio",
            ids,
            ratio_rows(correct_citations, citations),
            note="citations of answered questions that point at a gold chunk",
        ),
        ctx.metric(
            "latency_ms",
            "ratio",
            ids,
            mean_rows(latencies),
            higher_is_better=False,
            unit="ms",
            note=f"agent answer (retrieval + grounding, no LLM); p50 "
            f"{np.percentile(latencies, 50):.0f} ms, p95 {np.percentile(latencies, 95):.0f} ms",
        ),
    ]
    spoken = [(i, r) for i, r in zip(items, results, strict=True) if r.mode != "abstained"]
    cases = [
        JudgeCase(
            item_id=i.id,
            question=i.question,
            answer=r.text,
            sources=_cited_texts(r),
            reference=i.gold_answer,
        )
        for i, r in spoken
    ]
    for rubric in ("faithfulness", "relevance", "clinical_safety"):
        metrics += ctx.judge_metrics(f"judge_{rubric}", ctx.judged(cases, rubric))
    modes_used = {
        m: sum(r.mode == m for r in results) for m in ("extractive", "generated", "abstained")
    }
    return SuiteResult(
        name="documents",
        title="Documents (RAG) QA",
        agent="documents",
        datasets=[ref],
        metrics=metrics,
        tables=[modes],
        outputs=[
            ItemOutput(
                item_id=c.item_id,
                question=c.question,
                answer=c.answer,
                sources=c.sources,
                reference=c.reference,
            )
            for c in cases
        ],
        notes=[
            f"{sum(answerable)} answerable and {len(items) - sum(answerable)} unanswerable "
            f"questions; answer modes {modes_used} (no composer model: extractive answers).",
        ],
    )


SUITE = Suite(name="documents", title="Documents (RAG) QA", agent="documents", run=run, order=30)
