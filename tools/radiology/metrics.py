"""Report-generation metrics (spec §8): BLEU-1..4, ROUGE-1/2/L, METEOR and clinical P/R/F1.

Text metrics run on the spec §8.4 tokens (`report_text.metric_tokens`); pairs whose reference
or generated report is empty after normalisation are skipped and counted (spec §8.4, step 8).
- BLEU-n: sacreBLEU's corpus BLEU with `max_ngram_order=n` on the pre-tokenized text
  (cumulative n-gram precision with brevity penalty), scaled to [0, 1].
- ROUGE-1/2/L: rouge-score F-measures, averaged over pairs.
- METEOR: NLTK's METEOR with exact and Porter-stem matching, averaged over pairs. WordNet
  synonyms are not available offline, so synonym matching is off (and said in `notes`).
- Clinical: `clinical_metrics.clinical_scores` on the raw texts of the same pairs: the labeller
  needs the punctuation that §8.4 removes to find negation scopes.
BERTScore (spec §8.2) needs a model that is not available offline; it is left out (in `notes`).
Nothing here downloads NLTK data: tokenization skips the punkt sentence splitter and METEOR
gets a synonym source that has none.

Usage:
    metrics = score_reports(generated_texts, reference_texts)
    metrics.bleu_4, metrics.rouge_l, metrics.meteor, metrics.clinical.macro_f1
"""

from __future__ import annotations

from collections.abc import Sequence

from nltk.stem.porter import PorterStemmer
from nltk.translate.meteor_score import single_meteor_score
from pydantic import BaseModel, ConfigDict
from rouge_score import rouge_scorer
from sacrebleu.metrics import BLEU

from state.errors import InputError
from tools.radiology.clinical_metrics import ClinicalScores, clinical_scores
from tools.radiology.report_text import metric_tokens

METEOR_NOTE = (
    "METEOR uses exact and Porter-stem matching only: WordNet synonyms are not available offline."
)
BERTSCORE_NOTE = "BERTScore is not computed: its model is not available offline."


class ReportMetrics(BaseModel):
    """Text and clinical metrics of generated reports against references, all in [0, 1]."""

    model_config = ConfigDict(frozen=True)

    pairs: int
    skipped_pairs: int
    bleu_1: float
    bleu_2: float
    bleu_3: float
    bleu_4: float
    rouge_1: float
    rouge_2: float
    rouge_l: float
    meteor: float
    clinical: ClinicalScores
    notes: tuple[str, ...] = (METEOR_NOTE, BERTSCORE_NOTE)


class _NoSynonyms:
    """Stands in for NLTK's WordNet reader in METEOR: it knows no synonyms."""

    def synsets(self, word: str) -> list[object]:
        return []


class _WhitespaceTokenizer:
    """rouge-score tokenizer for text that is already §8.4-tokenized."""

    def tokenize(self, text: str) -> list[str]:
        return text.split()


def corpus_bleu(hypotheses: Sequence[str], references: Sequence[str], order: int) -> float:
    """Corpus BLEU up to `order`-grams on whitespace-tokenized texts, in [0, 1]."""
    bleu = BLEU(max_ngram_order=order, tokenize="none")
    return bleu.corpus_score(list(hypotheses), [list(references)]).score / 100


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values)


def score_reports(
    generated: Sequence[str | None],
    references: Sequence[str | None],
    uncertain_as_positive: bool = False,
) -> ReportMetrics:
    """Score generated reports against their references, pair by pair."""
    if len(generated) != len(references):
        raise InputError(f"{len(generated)} generated reports but {len(references)} references")
    pairs = [
        (hypothesis, reference, metric_tokens(hypothesis), metric_tokens(reference))
        for hypothesis, reference in zip(generated, references, strict=True)
    ]
    valid = [pair for pair in pairs if pair[2] and pair[3]]
    if not valid:
        raise InputError("no pair has both a non-empty generated report and reference")
    hypotheses = [" ".join(pair[2]) for pair in valid]
    targets = [" ".join(pair[3]) for pair in valid]
    rouge = rouge_scorer.RougeScorer(
        ["rouge1", "rouge2", "rougeL"], tokenizer=_WhitespaceTokenizer()
    )
    rouge_scores = [rouge.score(t, h) for t, h in zip(targets, hypotheses, strict=True)]
    stemmer, no_synonyms = PorterStemmer(), _NoSynonyms()
    meteor = [
        single_meteor_score(ref, hyp, stemmer=stemmer, wordnet=no_synonyms)
        for _, _, hyp, ref in valid
    ]
    return ReportMetrics(
        pairs=len(valid),
        skipped_pairs=len(pairs) - len(valid),
        bleu_1=corpus_bleu(hypotheses, targets, 1),
        bleu_2=corpus_bleu(hypotheses, targets, 2),
        bleu_3=corpus_bleu(hypotheses, targets, 3),
        bleu_4=corpus_bleu(hypotheses, targets, 4),
        rouge_1=_mean([s["rouge1"].fmeasure for s in rouge_scores]),
        rouge_2=_mean([s["rouge2"].fmeasure for s in rouge_scores]),
        rouge_l=_mean([s["rougeL"].fmeasure for s in rouge_scores]),
        meteor=_mean(meteor),
        clinical=clinical_scores(
            [pair[0] or "" for pair in valid],
            [pair[1] or "" for pair in valid],
            uncertain_as_positive,
        ),
    )
