"""Tutor case questions built from the real IU X-ray reports, labelled by the radiology labeller.

Three forms per report, as plain dicts in the question-bank schema (`tools/tutor/bank.py`):
`case-<uid>-1` "which finding does this report describe?" (mcq: one labelled positive against
three conditions the report rules out or does not mention), `case-<uid>-2` "list the abnormal
findings" (short, two or more positives) and `case-<uid>-3` "write the impression for these
findings" (short: the radiologist's own impression is the model answer). Reports with a
de-identified span (XXXX) or without findings or impression are skipped, and so are repeats of
an already used findings text. Normal studies are capped at `normal_share` of the reports used,
because most IU reports are normal and abnormal ones teach more.

Usage:
    reports = load_iu_reports(ensure_radiology_data(cache_dir).reports_tgz)
    dicts = build_case_questions(reports, count=20, seed=7)
    bank = load_bank(extra_questions=[Question.model_validate(d) for d in dicts])
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from state.errors import InputError
from tools.radiology.assets import ensure_radiology_data
from tools.radiology.conditions import CONDITIONS, Mention
from tools.radiology.labeller import label_report
from tools.radiology.report_text import clean_section, normalize_whitespace, split_sentences
from tools.radiology.reports import IUReport, load_iu_reports
from tools.tutor.grading import keyword_present, stems

Labeller = Callable[[str], Mapping[str, Mention]]
CaseQuestion = dict[str, Any]

NO_FINDING = "No Finding"
CONDITION_CONCEPTS: dict[str, str] = {
    "No Finding": "normal_study",
    "Enlarged Cardiomediastinum": "enlarged_cardiomediastinum",
    "Cardiomegaly": "cardiomegaly",
    "Lung Opacity": "lung_opacity",
    "Lung Lesion": "lung_nodule_mass",
    "Edema": "pulmonary_edema",
    "Consolidation": "consolidation",
    "Pneumonia": "pneumonia",
    "Atelectasis": "atelectasis",
    "Pneumothorax": "pneumothorax",
    "Pleural Effusion": "pleural_effusion",
    "Pleural Other": "pleural_other",
    "Fracture": "fracture",
    "Support Devices": "support_devices",
}
CHOICE_TEXT: dict[str, str] = {
    "No Finding": "No abnormal finding (a normal study)",
    "Enlarged Cardiomediastinum": "An enlarged cardiomediastinal silhouette",
    "Cardiomegaly": "Cardiomegaly",
    "Lung Opacity": "A lung opacity",
    "Lung Lesion": "A lung nodule or mass",
    "Edema": "Pulmonary edema",
    "Consolidation": "Consolidation",
    "Pneumonia": "Pneumonia",
    "Atelectasis": "Atelectasis",
    "Pneumothorax": "A pneumothorax",
    "Pleural Effusion": "A pleural effusion",
    "Pleural Other": "Pleural thickening or plaque",
    "Fracture": "A fracture",
    "Support Devices": "A support device (tube, line or implant)",
}
# Words a report uses for each condition; the first one found in the text becomes the rubric
# keyword, the first of the list when none is found. They also keep an unlabelled mention
# (a labeller miss) from becoming a distractor.
CONDITION_WORDS: dict[str, tuple[str, ...]] = {
    "Enlarged Cardiomediastinum": ("mediastinum", "mediastinal", "cardiomediastinal"),
    "Cardiomegaly": ("cardiomegaly", "cardiac enlargement", "enlarged"),
    "Lung Opacity": ("opacity", "infiltrate", "density", "airspace disease"),
    "Lung Lesion": ("nodule", "mass", "lesion", "granuloma"),
    "Edema": ("edema", "congestion"),
    "Consolidation": ("consolidation",),
    "Pneumonia": ("pneumonia", "infection"),
    "Atelectasis": ("atelectasis", "collapse"),
    "Pneumothorax": ("pneumothorax",),
    "Pleural Effusion": ("effusion",),
    "Pleural Other": ("pleural thickening", "thickening", "plaque", "scarring"),
    "Fracture": ("fracture",),
    "Support Devices": ("pacemaker", "catheter", "tube", "line", "wires", "clips", "device"),
}
NORMAL_WORDS = ("no acute", "normal", "cardiopulmonary", "no active", "clear")
MODIFIER_WORDS = ("left", "right", "bilateral", "mild", "moderate", "small", "large", "severe")
# Conditions that overlap (CheXpert parents and children): never a distractor for each other.
RELATED: tuple[frozenset[str], ...] = (
    frozenset(
        {"Lung Opacity", "Edema", "Consolidation", "Pneumonia", "Atelectasis", "Lung Lesion"}
    ),
    frozenset({"Consolidation", "Pneumonia"}),
    frozenset({"Enlarged Cardiomediastinum", "Cardiomegaly"}),
    frozenset({"Pleural Effusion", "Pleural Other"}),
)
MAX_KEYWORDS = 6
DEIDENTIFIED = "xxxx"


def usable(report: IUReport) -> bool:
    """Whether a report can become case questions: findings and impression, no XXXX spans."""
    text = f"{report.findings} {report.impression}".lower()
    return bool(report.findings.strip() and report.impression.strip()) and DEIDENTIFIED not in text


def _words_in(text: str, words: Iterable[str]) -> list[str]:
    found = stems(text)
    return [w for w in words if keyword_present(w, found)]


def _keyword(condition: str, text: str) -> str | None:
    return next(iter(_words_in(text, CONDITION_WORDS[condition])), None)


def _sentence(labeller: Labeller, text: str, condition: str, mention: Mention) -> str | None:
    """The first sentence of `text` that on its own gives `condition` this mention."""
    return next((s for s in split_sentences(text) if labeller(s)[condition] == mention), None)


def _related(condition: str, present: set[str]) -> bool:
    return any(condition in group and present & group for group in RELATED)


def _positives(labels: Mapping[str, Mention]) -> list[str]:
    return [c for c in CONDITIONS if c != NO_FINDING and labels[c] == "positive"]


def _difficulty(positives: list[str]) -> str:
    if not positives:
        return "easy"
    return "hard" if len(positives) >= 3 else "medium"


def _named(conditions: list[str]) -> str:
    names = [CHOICE_TEXT[c].lower() for c in conditions]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _distractors(
    findings: str, labels: Mapping[str, Mention], rng: random.Random
) -> tuple[list[str], list[str]]:
    """Three conditions the report does not describe, those it rules out first; and those."""
    present = {c for c in CONDITIONS if labels[c] in ("positive", "uncertain")}
    mentioned = set(_words_in(findings, [w for ws in CONDITION_WORDS.values() for w in ws]))
    candidates = [
        c
        for c in CONDITIONS
        if c not in present
        and not _related(c, present)
        and (c == NO_FINDING or labels[c] == "negative" or not mentioned & set(CONDITION_WORDS[c]))
    ]
    negated = [c for c in candidates if labels[c] == "negative"]
    others = [c for c in candidates if labels[c] != "negative"]
    rng.shuffle(negated)
    rng.shuffle(others)
    chosen = (negated + others)[:3]
    return chosen, [c for c in chosen if c in negated]


def findings_mcq(
    report: IUReport, labels: Mapping[str, Mention], labeller: Labeller, rng: random.Random
) -> CaseQuestion | None:
    """'Which of these does the report describe?': one positive against three absent conditions."""
    positives = _positives(labels)
    if positives:
        answer = rng.choice(positives)
    elif labels[NO_FINDING] == "positive":
        answer = NO_FINDING
    else:
        return None
    findings = clean_section(report.findings)
    distractors, ruled_out = _distractors(findings, labels, rng)
    if len(distractors) < 3:
        return None
    if answer == NO_FINDING:
        first = split_sentences(findings)[0]
        rationales = {answer: f'Every statement is normal or rules a finding out, e.g. "{first}"'}
        explanation = "Every finding is normal or explicitly ruled out: this is a normal study."
    else:
        quote = _sentence(labeller, findings, answer, "positive")
        rationales = {
            answer: f'The report describes it: "{quote}"' if quote else "It is described."
        }
        explanation = f"The findings describe {_named(positives)}."
    for c in distractors:
        denial = _sentence(labeller, findings, c, "negative")
        if c == NO_FINDING:
            rationales[c] = "The report describes an abnormality, so the study is not normal."
        else:
            rationales[c] = (
                f'The report rules it out: "{denial}"' if denial else "It is not mentioned."
            )
    if ruled_out:
        explanation += f" The report rules out {_named(ruled_out)}."
    options = [answer, *distractors]
    rng.shuffle(options)
    return {
        "id": f"case-{report.uid}-1",
        "kind": "mcq",
        "concepts": [
            CONDITION_CONCEPTS[c] for c in [answer, *(c for c in positives if c != answer)]
        ],
        "bloom": "application",
        "difficulty": _difficulty(positives),
        "stem": "Which of these does this chest radiograph report describe?\n\n"
        f"Findings: {findings}",
        "choices": [
            {"text": CHOICE_TEXT[c], "correct": c == answer, "rationale": rationales[c]}
            for c in options
        ],
        "answer": CHOICE_TEXT[answer],
        "rubric_keywords": [],
        "explanation": explanation,
    }


def findings_short(
    report: IUReport, labels: Mapping[str, Mention], labeller: Labeller
) -> CaseQuestion | None:
    """'List the abnormal findings': the report's own positive sentences are the model answer."""
    positives = _positives(labels)[:MAX_KEYWORDS]
    findings = clean_section(report.findings)
    quotes = [_sentence(labeller, findings, c, "positive") for c in positives]
    if len(positives) < 2 or None in quotes:
        return None
    answer = " ".join(dict.fromkeys(q for q in quotes if q))
    keywords = [k for c, q in zip(positives, quotes, strict=True) if q and (k := _keyword(c, q))]
    keywords = list(dict.fromkeys(keywords))
    if len(keywords) < 2:
        return None
    return {
        "id": f"case-{report.uid}-2",
        "kind": "short",
        "concepts": [CONDITION_CONCEPTS[c] for c in positives],
        "bloom": "application",
        "difficulty": _difficulty(positives),
        "stem": "List the abnormal findings this chest radiograph report describes.\n\n"
        f"Findings: {findings}",
        "answer": answer,
        "rubric_keywords": keywords,
        "explanation": f"The findings describe {_named(positives)}; a full answer names each.",
    }


def impression_short(report: IUReport, labeller: Labeller) -> CaseQuestion | None:
    """'Write the impression': the radiologist's impression is the model answer."""
    impression = clean_section(report.impression)
    labels = labeller(impression)
    positives = _positives(labels)
    if positives:
        keywords = [k for c in positives if (k := _keyword(c, impression))]
        keywords += _words_in(impression, MODIFIER_WORDS)
        concepts = [CONDITION_CONCEPTS[c] for c in positives]
        summary = f"names {_named(positives)}, with side and severity where given,"
    elif labels[NO_FINDING] == "positive":
        keywords = _words_in(impression, NORMAL_WORDS)
        concepts = [CONDITION_CONCEPTS[NO_FINDING]]
        summary = "states that the study shows no acute abnormality"
    else:
        return None
    keywords = list(dict.fromkeys(keywords))[:MAX_KEYWORDS]
    if len(keywords) < 2:
        return None
    indication = clean_section(report.indication)
    context = f"Indication: {indication}\n" if indication else ""
    return {
        "id": f"case-{report.uid}-3",
        "kind": "short",
        "concepts": concepts,
        "bloom": "analysis",
        "difficulty": _difficulty(positives),
        "stem": "Write the impression for these chest radiograph findings.\n\n"
        f"{context}Findings: {clean_section(report.findings)}",
        "answer": impression,
        "rubric_keywords": keywords,
        "explanation": f"The radiologist's impression {summary} and answers the clinical question.",
    }


def build_case_questions(
    reports: Iterable[IUReport],
    *,
    count: int,
    seed: int,
    labeller: Labeller = label_report,
    normal_share: float = 0.25,
) -> list[CaseQuestion]:
    """Up to `count` case questions from usable reports, visited in a seeded random order."""
    if count < 1:
        raise InputError(f"count must be at least 1, got {count}")
    if not 0.0 <= normal_share <= 1.0:
        raise InputError(f"normal_share must lie between 0 and 1, got {normal_share}")
    rng = random.Random(seed)
    pool = sorted((r for r in reports if usable(r)), key=lambda r: r.uid)
    rng.shuffle(pool)
    questions: list[CaseQuestion] = []
    seen: set[str] = set()
    used = normal = 0
    for report in pool:
        key = normalize_whitespace(report.findings).lower()
        labels = labeller(clean_section(report.findings))
        is_normal = not _positives(labels)
        if key in seen or (is_normal and normal >= normal_share * (used + 1)):
            continue
        seen.add(key)
        used += 1
        normal += is_normal
        built = (
            findings_mcq(report, labels, labeller, rng),
            findings_short(report, labels, labeller),
            impression_short(report, labeller),
        )
        questions += [q for q in built if q is not None]
        if len(questions) >= count:
            break
    return questions[:count]


def load_case_questions(
    cache_dir: Path, *, count: int, seed: int, labeller: Labeller = label_report
) -> list[CaseQuestion]:
    """Case questions from the cached IU X-ray reports (fetched into the cache the first time)."""
    reports = load_iu_reports(ensure_radiology_data(cache_dir).reports_tgz)
    return build_case_questions(reports, count=count, seed=seed, labeller=labeller)
