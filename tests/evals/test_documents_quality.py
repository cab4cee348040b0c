"""Documents quality on the QA set: hybrid beats dense-only and BM25-only; abstention; citations.

Runs the real MiniLM embedder and Milvus Lite over the demo corpus and the generated handbook
PDF, with the agent in extractive mode (no composer), so the numbers do not depend on a model.
The QA set's questions mostly reuse the documents' words; the paraphrase set asks 25 questions
without them, which is where dense retrieval has to carry the lexical list.
"""

from __future__ import annotations

import pytest
from rich.console import Console

from evals.documents import PARAPHRASE_FILE, build_eval_store, load_qa_set, render, run_eval
from tests.tools.rag.corpus import embedder
from tools.rag.store import ChunkStore


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory):
    workdir = tmp_path_factory.mktemp("docs-eval")
    store = ChunkStore(str(workdir / "eval.db"))
    items = load_qa_set()
    paraphrases = load_qa_set(file=PARAPHRASE_FILE)
    try:
        build_eval_store(store, embedder(), workdir)
        stored = {c.chunk_id for c in store.chunks("eval")}
        retrieval, answers = run_eval(store, embedder(), items)
        para_retrieval, para_answers = run_eval(store, embedder(), paraphrases)
    finally:
        store.close()
    render(retrieval, answers, Console(width=100))
    render(para_retrieval, para_answers, Console(width=100))
    return {
        "items": items,
        "paraphrases": paraphrases,
        "stored": stored,
        "qa": {r.mode: r for r in retrieval},
        "paraphrase": {r.mode: r for r in para_retrieval},
        "answers": answers,
        "paraphrase_answers": para_answers,
    }


def test_the_set_has_enough_questions_and_every_gold_chunk_exists(results) -> None:
    items, paraphrases = results["items"], results["paraphrases"]
    assert sum(i.answerable for i in items) >= 80
    assert sum(not i.answerable for i in items) >= 20
    assert len(paraphrases) == 25 and all(i.answerable for i in paraphrases)
    assert len({i.id for i in [*items, *paraphrases]}) == len(items) + len(paraphrases)
    assert {c for i in [*items, *paraphrases] for c in i.gold_chunks} <= results["stored"]


def test_hybrid_beats_dense_only_and_bm25_only(results) -> None:
    for name in ("qa", "paraphrase"):
        by_mode = results[name]
        print(name, {m: f"recall@5 {r.recall:.3f} nDCG@5 {r.ndcg:.3f}" for m, r in by_mode.items()})
    qa, para = results["qa"], results["paraphrase"]
    assert qa["hybrid"].recall >= 0.90 and para["hybrid"].recall >= 0.90
    # On the QA set BM25 alone already finds every gold chunk, so hybrid can only tie it there;
    # on the paraphrases it must beat both lists, and it may lose to neither anywhere.
    assert para["hybrid"].recall > para["dense"].recall
    assert para["hybrid"].recall > para["bm25"].recall
    assert qa["hybrid"].recall > qa["dense"].recall and qa["hybrid"].recall >= qa["bm25"].recall
    n_qa = sum(i.answerable for i in results["items"])
    n_para = len(results["paraphrases"])
    both = {
        mode: (qa[mode].recall * n_qa + para[mode].recall * n_para) / (n_qa + n_para) for mode in qa
    }
    print("both sets, recall@5:", {mode: f"{r:.3f}" for mode, r in both.items()})
    assert both["hybrid"] > both["dense"] and both["hybrid"] > both["bm25"]


def test_abstention_and_citation_accuracy_meet_targets(results) -> None:
    answers, para = results["answers"], results["paraphrase_answers"]
    assert answers.abstention >= 0.90
    assert answers.citation_accuracy >= 0.95
    assert answers.answer_rate >= 0.80
    # Known gap, printed and not gated: the extractive agent's support check is lexical, so
    # without a composer it abstains on questions that share no words with the documents.
    print(f"paraphrase answer rate (extractive) {para.answer_rate:.3f}")
