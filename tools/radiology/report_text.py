"""Report text: the spec §5.4 cleaning and target format, and the §8.4 normalisation for metrics.

Usage:
    target = report_target(report)  # "Findings: Heart size is normal. | Impression: Normal."
    tokens = metric_tokens(target)  # ["heart", "size", "is", "normal", "normal"]
"""

from __future__ import annotations

import re
import string
import unicodedata

from nltk.tokenize import word_tokenize

from tools.radiology.reports import IUReport

_PHI = re.compile(r"xxxx", re.IGNORECASE)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_ENUMERATOR = re.compile(r"^\(?\d{1,2}[.)]$")
_MISSING_SPACE = re.compile(r"([.!?])(?=[A-Z])")
_SPACE_BEFORE_PUNCT = re.compile(r"\s+([.,;:!?])")
_REPEATED_PUNCT = re.compile(r"([.,;:!?])[.,;:!?]+")
_SECTION_PREFIX = re.compile(r"\b(?:findings|impression)\s*:", re.IGNORECASE)
_UNICODE_PUNCT = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201a": "'",
        "\u201b": "'",
        "\u2032": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u201e": '"',
        "\u2033": '"',
        "\u2010": "-",
        "\u2011": "-",
        "\u2012": "-",
        "\u2013": "-",
        "\u2014": "-",
        "\u2015": "-",
        "\u2212": "-",
        "\u00a0": " ",
    }
)
_INNER_PUNCT = re.compile(r"(?<=\w)['.](?=\w)")
_ALL_PUNCT = re.compile(f"[{re.escape(string.punctuation)}]")


def normalize_whitespace(text: str) -> str:
    """Collapse every run of whitespace to one space and strip the ends."""
    return " ".join(text.split())


def split_sentences(text: str) -> list[str]:
    """Sentences of a report section; a bare list number ("2.") stays with its sentence."""
    text = _MISSING_SPACE.sub(r"\1 ", normalize_whitespace(text))
    sentences: list[str] = []
    pending = ""
    for piece in _SENTENCE_END.split(text):
        if not piece:
            continue
        if _ENUMERATOR.match(piece):
            pending = f"{pending} {piece}".strip()
            continue
        sentences.append(f"{pending} {piece}".strip())
        pending = ""
    if pending:
        sentences.append(pending)
    return sentences


def clean_section(text: str | None) -> str:
    """Spec §5.4: strip, drop whole sentences holding a de-identification mark (XXXX),
    normalise whitespace and fix sentence spacing."""
    if not text:
        return ""
    kept = [s for s in split_sentences(text) if not _PHI.search(s)]
    joined = _SPACE_BEFORE_PUNCT.sub(r"\1", " ".join(kept))
    return normalize_whitespace(_REPEATED_PUNCT.sub(r"\1", joined))


def format_report(findings: str, impression: str) -> str:
    """The target format `Findings: … | Impression: …` (both labels always present)."""
    return normalize_whitespace(f"Findings: {findings} | Impression: {impression}")


def report_target(report: IUReport) -> str:
    """The cleaned, formatted training text of a report; empty when both sections clean to
    nothing, so callers can leave the report out."""
    findings, impression = clean_section(report.findings), clean_section(report.impression)
    if not (findings or impression):
        return ""
    return format_report(findings, impression)


def normalize_unicode(text: str | None) -> str:
    """Spec §8.4 steps 1 and 4: None becomes empty; NFKC, smart quotes and dashes made ASCII."""
    if not text:
        return ""
    return unicodedata.normalize("NFKC", text).translate(_UNICODE_PUNCT)


def metric_tokens(text: str | None) -> list[str]:
    """Spec §8.4: lowercase, drop the section prefixes and `|`, normalise unicode, remove
    punctuation (an apostrophe or point inside a word is deleted, "patient's" → "patients";
    any other mark separates words, "x-ray" → "x ray"),
    normalise whitespace and tokenize with NLTK's word tokenizer.

    `preserve_line=True` skips NLTK's sentence splitter, whose punkt model would need a
    download; with punctuation removed there are no sentence boundaries left to find.
    """
    text = _SECTION_PREFIX.sub(" ", normalize_unicode(text).lower())
    text = normalize_whitespace(_ALL_PUNCT.sub(" ", _INNER_PUNCT.sub("", text)))
    return word_tokenize(text, preserve_line=True) if text else []
