"""Documents eval: the QA set, its PDF, retrieval metrics (recall@k, nDCG@k) and answer metrics.

Metrics:
- recall@k: for an answerable question, the share of its gold chunks among the top k retrieved;
  averaged over answerable questions.
- nDCG@k: binary relevance (gold chunk = 1), ideal ranking = all gold chunks first.
- abstention accuracy: the share of unanswerable questions where the agent abstained.
- answer rate: the share of answerable questions where the agent did not abstain.
- citation accuracy: over answered answerable questions, the share of citations whose chunk is
  a gold chunk of the question.

The corpus is `tools/rag/demo_corpus/` plus `write_handbook_pdf()`, a generated three-page PDF.
Gold chunk ids are stable (collection, source, page, section path, ordinal; see
`tools/rag/chunking.chunk_id`), so they survive re-ingestion.

Run: `python -m evals.documents` (real MiniLM, a temporary Milvus Lite file).
"""

from __future__ import annotations

import math
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import pymupdf
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from rich.console import Console
from rich.table import Table

from agents.documents import DocumentsAgent
from state.errors import ConfigError
from tools.rag.hybrid_search import Embedder, HybridRetriever
from tools.rag.ingest import Ingestor
from tools.rag.store import ChunkStore

EVAL_COLLECTION = "demo"
EVAL_TENANT = "eval"
HANDBOOK_NAME = "mri_safety_handbook.pdf"
DEMO_CORPUS = Path(__file__).resolve().parent.parent / "tools" / "rag" / "demo_corpus"

# (page, heading, body) of the generated handbook; a heading of None continues the section.
HANDBOOK: tuple[tuple[int, str | None, str], ...] = (
    (1, "MRI Safety Screening Handbook", ""),
    (
        1,
        "1. Screening form",
        "Every patient completes the MRI safety questionnaire before entering zone III. A "
        "radiographer with level 2 MRI safety training reviews the form with the patient and "
        "signs it. Unconscious patients are screened from the notes and with a relative.",
    ),
    (
        1,
        "2. Implanted devices",
        "Check the make and model of every implant against the manufacturer's MRI labelling. "
        "An implant labelled MR conditional may be scanned only within its stated conditions, "
        "such as field strength and specific absorption rate limits. Cardiac pacemakers that "
        "are not MR conditional are a contraindication unless a cardiologist approves the scan.",
    ),
    (
        2,
        "3. Metallic foreign bodies",
        "Patients who have worked with metal grinding or welding, or who had an eye injury "
        "with metal, need orbital radiographs before MRI to exclude a metallic fragment in "
        "the eye. Shrapnel and bullet fragments need a radiologist decision.",
    ),
    (
        2,
        "4. Gadolinium contrast",
        "Gadolinium contrast is given only when it changes management. Macrocyclic agents are "
        "used in this service. Patients with an eGFR below 30 receive gadolinium only after "
        "radiologist approval, at the lowest diagnostic dose.",
    ),
    (
        3,
        "5. Claustrophobia",
        "Offer a visit to the scanner, music and a wide bore scanner where available. "
        "Oral sedation needs a responsible adult to take the patient home afterwards.",
    ),
    (
        3,
        "6. Emergencies in the scanner room",
        "In a cardiac arrest, move the patient out of the scanner room to zone II before "
        "resuscitation; the resuscitation team and their equipment never enter zone IV. A "
        "quench is used only when a person is trapped against the magnet by a metal object.",
    ),
)


def write_handbook_pdf(path: Path, *, scanned: bool = False) -> Path:
    """Write the handbook PDF with a text layer, or as page images only (`scanned`)."""
    doc = pymupdf.open()
    pages: dict[int, pymupdf.Page] = {}
    cursor: dict[int, float] = {}
    for page_no, heading, body in HANDBOOK:
        if page_no not in pages:
            pages[page_no] = doc.new_page(width=595, height=842)
            cursor[page_no] = 60.0
        page = pages[page_no]
        if heading is not None:
            size = 18 if not body else 14
            page.insert_text((56, cursor[page_no] + size), heading, fontsize=size)
            cursor[page_no] += size + 14
        if body:
            rect = pymupdf.Rect(56, cursor[page_no], 540, cursor[page_no] + 200)
            spare = page.insert_textbox(rect, body, fontsize=11)
            cursor[page_no] += 200 - spare + 18
    if scanned:
        images = pymupdf.open()
        for page in doc:
            pixmap = page.get_pixmap(dpi=150)
            target = images.new_page(width=page.rect.width, height=page.rect.height)
            target.insert_image(target.rect, pixmap=pixmap)
        doc.close()
        doc = images
    doc.set_metadata({"title": "MRI Safety Screening Handbook"})
    doc.save(path)
    doc.close()
    return path


class QAItem(BaseModel):
    """One eval question: answerable with gold chunks and a gold answer, or unanswerable."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1)
    question: str = Field(min_length=1)
    answerable: bool
    gold_chunks: list[str] = Field(default_factory=list)
    gold_answer: str = ""
    source: str = ""
    section: list[str] = Field(default_factory=list)


QA_FILE = "documents_qa.jsonl"
# Questions asked without the documents' wording: lexical retrieval alone misses many of them.
PARAPHRASE_FILE = "documents_paraphrase.jsonl"


def load_qa_set(path: Path | None = None, *, file: str = QA_FILE) -> list[QAItem]:
    """Load and validate a QA file: `path`, or `file` from `evals/data/`."""
    text = (
        path.read_text(encoding="utf-8")
        if path is not None
        else resources.files("evals").joinpath(f"data/{file}").read_text("utf-8")
    )
    name = path.name if path is not None else file
    items = []
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            item = QAItem.model_validate_json(line)
        except ValidationError as exc:
            raise ConfigError(f"{name} line {n}: {exc}") from exc
        if item.answerable != bool(item.gold_chunks):
            raise ConfigError(f"{name} line {n}: gold chunks iff answerable")
        items.append(item)
    return items


def recall_at_k(retrieved: Sequence[str], gold: Sequence[str], k: int) -> float:
    """Share of gold ids in the top k."""
    return len(set(retrieved[:k]) & set(gold)) / len(set(gold))


def ndcg_at_k(retrieved: Sequence[str], gold: Sequence[str], k: int) -> float:
    """nDCG@k with binary relevance."""
    gold_set = set(gold)
    dcg = sum(1 / math.log2(r + 2) for r, key in enumerate(retrieved[:k]) if key in gold_set)
    ideal = sum(1 / math.log2(r + 2) for r in range(min(len(gold_set), k)))
    return dcg / ideal


@dataclass(frozen=True)
class RetrievalScores:
    """Mean recall@k and nDCG@k of one retrieval mode over answerable questions."""

    mode: str
    recall: float
    ndcg: float
    k: int


@dataclass(frozen=True)
class AnswerScores:
    """Agent behaviour over the QA set."""

    abstention: float  # unanswerable questions abstained on
    answer_rate: float  # answerable questions answered
    citation_accuracy: float  # citations pointing at a gold chunk
    extractive: int
    generated: int


def score_retrieval(
    mode: str, ranked: dict[str, list[str]], items: Sequence[QAItem], k: int = 5
) -> RetrievalScores:
    """Average the retrieval metrics over the answerable items."""
    answerable = [i for i in items if i.answerable]
    recall = sum(recall_at_k(ranked[i.id], i.gold_chunks, k) for i in answerable) / len(answerable)
    ndcg = sum(ndcg_at_k(ranked[i.id], i.gold_chunks, k) for i in answerable) / len(answerable)
    return RetrievalScores(mode, recall, ndcg, k)


def score_answers(
    outcomes: dict[str, tuple[str, list[str]]], items: Sequence[QAItem]
) -> AnswerScores:
    """Score agent outcomes: per item id, (mode, cited chunk ids); NaN where a set has no items."""
    unanswerable = [i for i in items if not i.answerable]
    answerable = [i for i in items if i.answerable]
    abstained = sum(outcomes[i.id][0] == "abstained" for i in unanswerable)
    answered = [i for i in answerable if outcomes[i.id][0] != "abstained"]
    cited = [(c, i) for i in answered for c in outcomes[i.id][1]]
    correct = sum(c in i.gold_chunks for c, i in cited)
    return AnswerScores(
        abstention=abstained / len(unanswerable) if unanswerable else float("nan"),
        answer_rate=len(answered) / len(answerable) if answerable else float("nan"),
        citation_accuracy=correct / len(cited) if cited else 0.0,
        extractive=sum(outcomes[i.id][0] == "extractive" for i in items),
        generated=sum(outcomes[i.id][0] == "generated" for i in items),
    )


def render(
    retrieval: Sequence[RetrievalScores], answers: AnswerScores | None, console: Console
) -> None:
    """Print the retrieval table (one row per mode) and the answer metrics."""
    table = Table(title="Documents eval: retrieval over answerable questions")
    for column in ("mode", f"recall@{retrieval[0].k}", f"nDCG@{retrieval[0].k}"):
        table.add_column(column)
    for r in retrieval:
        table.add_row(r.mode, f"{r.recall:.3f}", f"{r.ndcg:.3f}")
    console.print(table)
    if answers is not None:
        console.print(
            f"abstention accuracy {answers.abstention:.3f} | answer rate {answers.answer_rate:.3f}"
            f" | citation accuracy {answers.citation_accuracy:.3f} | extractive "
            f"{answers.extractive}, generated {answers.generated}"
        )


def build_eval_store(store: ChunkStore, embedder: Embedder, workdir: Path) -> None:
    """Copy the demo corpus and the generated handbook PDF to `workdir` and ingest them."""
    corpus = workdir / "corpus"
    corpus.mkdir(parents=True, exist_ok=True)
    for file in DEMO_CORPUS.iterdir():
        (corpus / file.name).write_bytes(file.read_bytes())
    write_handbook_pdf(corpus / HANDBOOK_NAME)
    report = Ingestor(store, embedder).ingest(
        [str(corpus)], tenant_id=EVAL_TENANT, collection=EVAL_COLLECTION
    )
    if report.failed:
        raise ConfigError(f"the eval corpus did not ingest: {report.failed}")


def run_eval(
    store: ChunkStore, embedder: Embedder, items: Sequence[QAItem], k: int = 5
) -> tuple[list[RetrievalScores], AnswerScores]:
    """Retrieval metrics for dense, BM25 and hybrid, and the extractive agent's answer metrics."""
    scores = []
    for mode in ("dense", "bm25", "hybrid"):
        retriever = HybridRetriever(store, embedder, mode=mode)
        ranked = {
            i.id: [c.chunk.chunk_id for c in retriever.search(i.question, EVAL_TENANT, k=k).chunks]
            for i in items
        }
        scores.append(score_retrieval(mode, ranked, items, k))
    agent = DocumentsAgent(None, HybridRetriever(store, embedder), k=k)
    outcomes = {}
    for i in items:
        result = agent.answer(i.question, EVAL_TENANT)
        outcomes[i.id] = (result.mode, [c.chunk_id for c in result.citations])
    return scores, score_answers(outcomes, items)


def main() -> int:
    """Ingest the corpus into a temporary Milvus Lite file and print every metric."""
    from tools.models.embedder import MiniLMEmbedder

    items = load_qa_set()
    embedder = MiniLMEmbedder.load("cpu")
    with tempfile.TemporaryDirectory() as tmp:
        store = ChunkStore(str(Path(tmp) / "eval.db"))
        try:
            build_eval_store(store, embedder, Path(tmp))
            retrieval, answers = run_eval(store, embedder, items)
        finally:
            store.close()
    render(retrieval, answers, Console())
    return 0


if __name__ == "__main__":
    sys.exit(main())
