"""Report-generation metrics on hand-computable cases, checked against the reference libraries."""

from __future__ import annotations

import math
from pathlib import Path

import nltk
import pytest
import sacrebleu

from state.errors import InputError
from tools.radiology.clinical_metrics import clinical_scores, clinical_scores_from_labels
from tools.radiology.metrics import METEOR_NOTE, score_reports
from tools.radiology.report_text import metric_tokens

REFERENCES = [
    "Findings: The heart is normal in size. No pleural effusion. | Impression: Normal chest.",
    "Findings: Mild cardiomegaly. Small left pleural effusion. | Impression: Cardiomegaly.",
]


def test_identical_reports_score_one() -> None:
    metrics = score_reports(REFERENCES, REFERENCES)
    for name in ("bleu_1", "bleu_2", "bleu_3", "bleu_4", "rouge_1", "rouge_2", "rouge_l"):
        assert getattr(metrics, name) == pytest.approx(1.0), name
    assert metrics.meteor > 0.99
    assert metrics.clinical.micro_f1 == metrics.clinical.macro_f1 == 1.0


def test_disjoint_reports_score_zero() -> None:
    metrics = score_reports(["Pacemaker wires intact."], ["Lungs are clear bilaterally."])
    for name in ("bleu_1", "bleu_4", "rouge_1", "rouge_2", "rouge_l", "meteor"):
        assert getattr(metrics, name) == 0.0, name


def test_bleu_is_sacrebleu_corpus_bleu_on_normalised_tokens() -> None:
    generated = ["The heart is normal. No effusion.", "Mild cardiomegaly, small left effusion."]
    metrics = score_reports(generated, REFERENCES)
    hypotheses = [" ".join(metric_tokens(t)) for t in generated]
    references = [" ".join(metric_tokens(t)) for t in REFERENCES]
    expected = sacrebleu.corpus_bleu(hypotheses, [references], tokenize="none").score / 100
    assert metrics.bleu_4 == pytest.approx(expected)
    assert 0 < metrics.bleu_4 < metrics.bleu_3 < metrics.bleu_2 < metrics.bleu_1 < 1


def test_bleu_1_by_hand_is_brevity_penalty_times_unigram_precision() -> None:
    metrics = score_reports(["The heart is normal."], ["The heart size is normal."])
    assert metrics.bleu_1 == pytest.approx(math.exp(1 - 5 / 4))
    assert metrics.rouge_l == pytest.approx(2 * 1.0 * 0.8 / 1.8)


def test_meteor_matches_effusions_to_effusion_by_stem() -> None:
    stemmed = score_reports(["No pleural effusions."], ["No pleural effusion."]).meteor
    identical = score_reports(["No pleural effusion."], ["No pleural effusion."]).meteor
    unrelated = score_reports(["No pleural thickening."], ["No pleural effusion."]).meteor
    assert stemmed == pytest.approx(identical)
    assert unrelated < stemmed


def test_says_that_wordnet_synonyms_are_unavailable() -> None:
    metrics = score_reports(REFERENCES, REFERENCES)
    assert METEOR_NOTE in metrics.notes
    assert "WordNet" in METEOR_NOTE


def test_needs_no_nltk_data_and_never_downloads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("nltk.download was called")

    monkeypatch.setattr(nltk.data, "path", [str(tmp_path)])
    monkeypatch.setattr(nltk, "download", refuse)
    assert score_reports(["No pleural effusions."], ["No pleural effusion."]).meteor > 0.9


def test_empty_pairs_are_skipped_and_counted() -> None:
    metrics = score_reports([REFERENCES[0], "", None], [REFERENCES[0], REFERENCES[1], "x"])
    assert (metrics.pairs, metrics.skipped_pairs) == (1, 2)
    assert metrics.bleu_4 == pytest.approx(1.0)


def test_bad_inputs_are_input_errors() -> None:
    with pytest.raises(InputError, match="2 references"):
        score_reports(["a"], ["a", "b"])
    with pytest.raises(InputError, match="no pair"):
        score_reports(["", "..."], ["Normal.", ""])
    with pytest.raises(InputError, match="unknown conditions: Flu"):
        clinical_scores_from_labels([{"Flu"}], [set()])


def test_clinical_scores_count_conditions_found_by_the_labeller() -> None:
    generated = [
        "The heart is normal. Small left pleural effusion.",
        "Mild cardiomegaly. No pleural effusion.",
    ]
    scores = clinical_scores(generated, REFERENCES)
    cardiomegaly = scores.per_condition["Cardiomegaly"]
    effusion = scores.per_condition["Pleural Effusion"]
    no_finding = scores.per_condition["No Finding"]
    assert (cardiomegaly.precision, cardiomegaly.recall, cardiomegaly.f1) == (1.0, 1.0, 1.0)
    assert (effusion.predicted, effusion.support, effusion.f1) == (1, 1, 0.0)
    assert (no_finding.predicted, no_finding.support) == (0, 1)
    assert scores.micro_precision == pytest.approx(1 / 2)
    assert scores.micro_recall == pytest.approx(1 / 3)
    assert scores.micro_f1 == pytest.approx(0.4)
    assert scores.macro_conditions == 3
    assert scores.macro_f1 == pytest.approx(1 / 3)


def test_uncertain_mentions_count_only_when_asked() -> None:
    generated, reference = ["Possible small left pleural effusion."], ["Small left effusion."]
    strict = clinical_scores(generated, reference).per_condition["Pleural Effusion"]
    lenient = clinical_scores(generated, reference, uncertain_as_positive=True)
    assert strict.recall == 0.0
    assert lenient.per_condition["Pleural Effusion"].recall == 1.0
    assert lenient.uncertain_as_positive
