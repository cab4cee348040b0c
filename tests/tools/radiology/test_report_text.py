"""Spec §5.4 cleaning and target format; spec §8.4 normalisation for metrics."""

from __future__ import annotations

from tools.radiology.report_text import (
    clean_section,
    format_report,
    metric_tokens,
    normalize_unicode,
    report_target,
    split_sentences,
)
from tools.radiology.reports import IUReport


def test_drops_whole_sentences_holding_xxxx_and_keeps_the_rest() -> None:
    text = "The heart is normal.  There are no XXXX of effusion. No pneumothorax."
    assert clean_section(text) == "The heart is normal. No pneumothorax."


def test_fixes_sentence_spacing_and_repeated_punctuation() -> None:
    assert clean_section("  Lungs are clear.No effusion .. Bones intact..") == (
        "Lungs are clear. No effusion. Bones intact."
    )


def test_list_numbers_stay_with_their_sentence() -> None:
    text = "1. Increased opacity. 2. XXXX opacity over the rib. 3. Heart normal."
    assert split_sentences(text) == [
        "1. Increased opacity.",
        "2. XXXX opacity over the rib.",
        "3. Heart normal.",
    ]
    assert clean_section(text) == "1. Increased opacity. 3. Heart normal."


def test_decimal_points_do_not_split_sentences() -> None:
    assert split_sentences("A 1.5 cm nodule. Stable.") == ["A 1.5 cm nodule.", "Stable."]


def test_formats_findings_and_impression_with_both_labels() -> None:
    assert format_report("Heart normal.", "No acute disease.") == (
        "Findings: Heart normal. | Impression: No acute disease."
    )
    assert format_report("", "Normal chest.") == "Findings: | Impression: Normal chest."


def test_report_target_is_empty_when_everything_was_de_identified() -> None:
    report = IUReport(uid="9", findings="XXXX XXXX.", impression="Normal chest x-XXXX.")
    assert report_target(report) == ""
    kept = IUReport(uid="1", findings="Heart normal. XXXX present.", impression="Clear.")
    assert report_target(kept) == "Findings: Heart normal. | Impression: Clear."


def test_unicode_is_made_ascii_and_none_is_empty() -> None:
    assert normalize_unicode(None) == ""
    assert normalize_unicode("\u201cnormal\u201d \u2013 heart\u2019s") == '"normal" - heart\'s'


def test_metric_tokens_lowercase_and_drop_prefixes_and_punctuation() -> None:
    text = "Findings: The heart is NORMAL. | Impression: No effusion, x-ray 1.5 cm."
    assert metric_tokens(text) == [
        "the", "heart", "is", "normal", "no", "effusion", "x", "ray", "15", "cm",
    ]  # fmt: skip
    assert metric_tokens("normal.") == metric_tokens("Normal")
    assert metric_tokens(None) == []
    assert metric_tokens(" | Findings: ") == []
