"""The documents agent: grounded, cited answers; extractive fallback; abstention.

Tests that use `scripted_access` replay a scripted composer (ScriptedChatModel): they check
the grounding and fallback logic, which does not depend on language quality. Retrieval is real
(MiniLM + Milvus Lite over the demo corpus) everywhere.
"""

from __future__ import annotations

import shutil

import pytest

from agents.documents import ABSTAIN_OPENING, DocumentsAgent
from agents.registry import AgentTask
from agents.tool_calls import ToolCallReport, ToolCalls
from tests.scripted import scripted_access
from tests.tools.rag.corpus import DEMO_CORPUS, embedder, ingest
from tools.rag.hybrid_search import HybridRetriever
from tools.rag.store import ChunkStore

TENANT = "t1"
QUESTION = "How much pleural fluid is needed before the costophrenic angle blunts?"


@pytest.fixture(scope="module")
def retriever(tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("docs")
    shutil.copytree(DEMO_CORPUS, folder / "corpus")
    store = ChunkStore(str(folder / "rag.db"))
    ingest(store, [folder / "corpus"], TENANT, "demo")
    yield HybridRetriever(store, embedder())
    store.close()


def _index_of(retriever: HybridRetriever, question: str, section: str) -> int:
    chunks = retriever.search(question, TENANT, k=5).chunks
    return next(n for n, c in enumerate(chunks, start=1) if c.chunk.section[-1] == section)


def test_generated_claims_keep_their_citations_and_unsupported_ones_are_removed(retriever):
    n = _index_of(retriever, QUESTION, "4.1 Pleural effusion")
    reply = (
        f"About 200 to 300 ml of fluid is needed before the angle blunts on a PA film [{n}]. "
        f"The moon is made of green cheese and orbits Mars [{n}]."
    )
    agent = DocumentsAgent(scripted_access([reply]), retriever)
    result = agent.answer(QUESTION, TENANT)
    assert result.mode == "generated"
    assert "200 to 300 ml" in result.text and "cheese" not in result.text
    assert "[chest_radiograph_guide.md §4.1 Pleural effusion]" in result.text
    assert {c.label for c in result.citations} == {
        "[chest_radiograph_guide.md §4.1 Pleural effusion]"
    }


def test_generation_that_fails_validation_falls_back_to_cited_quotes(retriever):
    n = _index_of(retriever, QUESTION, "4.1 Pleural effusion")
    replies = [
        "<<< ### >>> lorem ipsum",  # no citation at all
        f"Bananas are yellow and grow in bunches [{n}].",  # cited but unsupported
        "About 200 to 300 ml of fluid is needed [9].",  # cites a source that was not retrieved
    ]
    agent = DocumentsAgent(scripted_access(replies), retriever)
    for _ in replies:
        result = agent.answer(QUESTION, TENANT)
        assert result.mode == "extractive"
        assert "“" in result.text and "200 to 300 ml" in result.text
        assert result.citations[0].label == "[chest_radiograph_guide.md §4.1 Pleural effusion]"


def test_unanswerable_question_abstains_without_calling_the_model(retriever):
    agent = DocumentsAgent(scripted_access([]), retriever)  # a model call would fail
    answer = agent.run(
        AgentTask(
            intent="documents",
            text="Which antibiotic treats community-acquired pneumonia?",
            order=2,
            tenant_id=TENANT,
        )
    )
    assert answer.text.startswith(ABSTAIN_OPENING)
    assert "community-acquired pneumonia" in answer.text  # says what it searched for
    assert answer.citations == [] and answer.order == 2 and answer.agent == "documents"


def test_an_empty_tenant_abstains_and_says_nothing_is_ingested(retriever):
    result = DocumentsAgent(None, retriever).answer(QUESTION, "nobody")
    assert result.mode == "abstained" and "No document has been ingested" in result.text


def test_end_to_end_on_real_retrieval_answers_with_citations(retriever):
    agent = DocumentsAgent(None, retriever)  # no composer: tools alone answer, extractively
    answer = agent.run(
        AgentTask(
            intent="documents",
            text="Where should the tip of an endotracheal tube lie?",
            order=0,
            tenant_id=TENANT,
        )
    )
    assert "5 cm above the carina" in answer.text
    assert answer.citations == ["[chest_radiograph_guide.md §5.1 Endotracheal tube]"]
    assert answer.citations[0] in answer.text


def test_retrieval_is_reported_as_a_tool_call_without_the_question_text(retriever):
    reports: list[ToolCallReport] = []
    agent = DocumentsAgent(None, retriever, tool_calls=ToolCalls(reports.append))
    result = agent.answer(QUESTION, TENANT)
    (report,) = reports
    assert report.tool == "search_documents" and report.outcome == "ok"
    assert report.summary["results"] == len(result.retrieved) > 0
    assert report.summary["chunk_ids"] == [c.chunk.chunk_id for c in result.retrieved]
    assert len(report.args_sha256) == 64 and "costophrenic" not in str(report.summary)
