"""Clinical precision, recall and F1 over the 14 conditions, by the report labeller (spec §8.3).

The spec uses CheXbert, which is not available offline; the rule labeller
(`tools.radiology.labeller`) takes its place. A condition counts as found in a report when the
labeller says "positive"; "uncertain" counts as not found unless `uncertain_as_positive` is set
(the same convention as the labeller's eval against MeSH).

Usage:
    scores = clinical_scores(generated_texts, reference_texts)
    scores.micro_f1, scores.macro_f1, scores.per_condition["Cardiomegaly"].f1
    scores = clinical_scores_from_labels(predicted_sets, true_sets)   # e.g. phantom findings
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict

from state.errors import InputError
from tools.radiology.conditions import CONDITIONS
from tools.radiology.labeller import label_report


class ConditionF1(BaseModel):
    """Scores of one condition; support counts the reports where the reference has it."""

    model_config = ConfigDict(frozen=True)

    precision: float
    recall: float
    f1: float
    support: int
    predicted: int


class ClinicalScores(BaseModel):
    """Micro scores pool every (report, condition) pair; macro scores average the conditions
    that occur in the references or the predictions (`macro_conditions` of them)."""

    model_config = ConfigDict(frozen=True)

    micro_precision: float
    micro_recall: float
    micro_f1: float
    macro_precision: float
    macro_recall: float
    macro_f1: float
    macro_conditions: int
    per_condition: dict[str, ConditionF1]
    uncertain_as_positive: bool


def _ratio(numerator: int | float, denominator: int | float) -> float:
    return numerator / denominator if denominator else 0.0


def _f1(precision: float, recall: float) -> float:
    return _ratio(2 * precision * recall, precision + recall)


def found_conditions(text: str, uncertain_as_positive: bool = False) -> frozenset[str]:
    """The conditions the labeller finds in a report text."""
    accepted = {"positive", "uncertain"} if uncertain_as_positive else {"positive"}
    labels = label_report(text)
    return frozenset(c for c in CONDITIONS if labels[c] in accepted)


def clinical_scores_from_labels(
    predicted: Sequence[frozenset[str] | set[str]],
    truth: Sequence[frozenset[str] | set[str]],
    uncertain_as_positive: bool = False,
) -> ClinicalScores:
    """Score predicted condition sets against true ones, report by report."""
    if len(predicted) != len(truth):
        raise InputError(f"{len(predicted)} predicted label sets but {len(truth)} true ones")
    unknown = set().union(*predicted, *truth) - set(CONDITIONS)
    if unknown:
        raise InputError(f"unknown conditions: {', '.join(sorted(unknown))}")
    per_condition: dict[str, ConditionF1] = {}
    totals = [0, 0, 0]
    for condition in CONDITIONS:
        hits = sum(condition in p and condition in t for p, t in zip(predicted, truth, strict=True))
        n_predicted = sum(condition in p for p in predicted)
        support = sum(condition in t for t in truth)
        precision, recall = _ratio(hits, n_predicted), _ratio(hits, support)
        per_condition[condition] = ConditionF1(
            precision=precision,
            recall=recall,
            f1=_f1(precision, recall),
            support=support,
            predicted=n_predicted,
        )
        totals = [totals[0] + hits, totals[1] + n_predicted, totals[2] + support]
    occurring = [s for s in per_condition.values() if s.support or s.predicted]
    micro_precision, micro_recall = _ratio(totals[0], totals[1]), _ratio(totals[0], totals[2])
    return ClinicalScores(
        micro_precision=micro_precision,
        micro_recall=micro_recall,
        micro_f1=_f1(micro_precision, micro_recall),
        macro_precision=_ratio(sum(s.precision for s in occurring), len(occurring)),
        macro_recall=_ratio(sum(s.recall for s in occurring), len(occurring)),
        macro_f1=_ratio(sum(s.f1 for s in occurring), len(occurring)),
        macro_conditions=len(occurring),
        per_condition=per_condition,
        uncertain_as_positive=uncertain_as_positive,
    )


def clinical_scores(
    generated: Sequence[str], references: Sequence[str], uncertain_as_positive: bool = False
) -> ClinicalScores:
    """Label generated and reference reports and score the generated labels."""
    if len(generated) != len(references):
        raise InputError(f"{len(generated)} generated reports but {len(references)} references")
    return clinical_scores_from_labels(
        [found_conditions(text, uncertain_as_positive) for text in generated],
        [found_conditions(text, uncertain_as_positive) for text in references],
        uncertain_as_positive,
    )
