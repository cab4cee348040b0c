"""Reversible, typed PHI/PII redaction: HIPAA Safe Harbor identifiers to `<TYPE_N>` placeholders.

Usage:
    redactor = PhiRedactor()
    vault = PhiVault()
    result = redactor.redact("Mr John Smith, MRN 00123456, call 555-201-3344", vault)
    result.text      # "Mr <PERSON_1>, MRN <MRN_1>, call <PHONE_1>"
    vault.restore(result.text)  # the original, for the same user only

`PhiVault` (in `state.schema`) maps placeholders to values; it lives in graph state and
never in a model's context.
The same value gets the same placeholder for the whole thread.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from typing import Literal

from state.schema import PLACEHOLDER, PhiVault
from tools.guards.phi_names import COMMON_WORDS as COMMON_NAMES_BLOCK
from tools.guards.phi_names import name_lexicon

PhiType = Literal[
    "PERSON",
    "DATE",
    "PHONE",
    "FAX",
    "EMAIL",
    "SSN",
    "MRN",
    "HEALTH_PLAN",
    "ACCOUNT",
    "LICENSE",
    "ADDRESS",
    "ZIP",
    "URL",
    "IP",
    "DEVICE",
    "AGE",
]

_ID = r"[A-Z0-9][A-Z0-9-]{3,19}"
_MONTH = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|jun(?:e)?|jul(?:y)?|aug(?:ust)?|"
    r"sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
)
_STREET = (
    r"(?:street|st|avenue|ave|road|rd|lane|ln|drive|dr|boulevard|blvd|court|ct|way|place|pl|"
    r"terrace|close|crescent|square|highway|hwy|parkway|pkwy)\.?"
)
_STATES = (
    r"(?:AL|AK|AZ|AR|CA|CO|CT|DE|FL|GA|HI|ID|IL|IN|IA|KS|KY|LA|ME|MD|MA|MI|MN|MS|MO|MT|NE|NV|"
    r"NH|NJ|NM|NY|NC|ND|OH|OK|OR|PA|RI|SC|SD|TN|TX|UT|VT|VA|WA|WV|WI|WY|DC)"
)

# (type, pattern, group holding the value). Order matters: earlier spans win overlaps.
_PATTERNS: tuple[tuple[PhiType, str, int], ...] = (
    ("EMAIL", r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b", 0),
    ("URL", r"\b(?:https?://|www\.)[^\s<>\"')\]]+", 0),
    ("IP", r"\b(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)\b", 0),
    ("IP", r"\b(?:[0-9a-f]{1,4}:){7}[0-9a-f]{1,4}\b", 0),
    ("DEVICE", r"\b(?:[0-9A-F]{2}[:-]){5}[0-9A-F]{2}\b", 0),
    ("SSN", r"\b(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}\b", 0),
    (
        "SSN",
        r"(?i)\b(?:ssn|social security(?: number| no\.?)?)[\s:#]*(\d{9}|\d{3} \d{2} \d{4})\b",
        1,
    ),
    (
        "MRN",
        rf"(?i)\b(?:mrn|medical record(?: number| no\.?| #)?|record (?:number|no\.?|#)|"
        rf"patient (?:id|number|no\.?)|hospital (?:number|no\.?)|nhs (?:number|no\.?))"
        rf"[\s:#.]*({_ID}(?: \d{{3}} \d{{4}})?)",
        1,
    ),
    (
        "HEALTH_PLAN",
        rf"(?i)\b(?:member (?:id|number|no\.?)|policy (?:number|no\.?|#)|"
        rf"insurance (?:id|number|no\.?)|"
        rf"health plan(?: id| number| no\.?)?|subscriber (?:id|number)|medicaid(?: id| number)?|"
        rf"medicare(?: id| number)?|beneficiary (?:id|number))[\s:#.]*({_ID})",
        1,
    ),
    (
        "ACCOUNT",
        rf"(?i)\b(?:account|acct|billing|invoice|iban)(?: number| no\.?| #| id)?[\s:#.]*({_ID})",
        1,
    ),
    (
        "LICENSE",
        rf"(?i)\b(?:licen[cs]e|dea|npi|certificate|passport|driver'?s licen[cs]e|gmc|registration)"
        rf"(?: number| no\.?| #| id)?[\s:#.]*({_ID})",
        1,
    ),
    (
        "DEVICE",
        rf"(?i)\b(?:serial(?: number| no\.?| #)?|device (?:id|serial|number)|imei|udi|"
        rf"pacemaker (?:id|serial)|implant (?:id|serial)|vin|plate(?: number)?)[\s:#.]*({_ID})",
        1,
    ),
    (
        "FAX",
        r"(?i)\bfax(?: number| no\.?)?[\s:#.]*"
        r"((?:\+?\d{1,3}[\s.-]?)?\(?\d{2,4}\)?[\s.-]?\d{3,4}[\s.-]?\d{3,4})",
        1,
    ),
    (
        "PHONE",
        r"(?<![\w.-])(?:\+?1[\s.-]?)?\(?\d{3}\)?[\s.-]\d{3}[\s.-]\d{4}\b|"
        r"(?<![\w.-])\+\d{1,3}[\s.-]?\d{2,4}[\s.-]?\d{3,4}[\s.-]?\d{3,4}\b|"
        r"(?<![\w.-])0\d{4}[\s]\d{6}\b",
        0,
    ),
    (
        "ADDRESS",
        rf"(?i)\b\d{{1,5}}\s+(?:[a-z][a-z'-]+\s+){{1,3}}{_STREET}(?=[\s,.;]|$)"
        rf"(?:,?\s+(?:apt|apartment|unit|suite|flat)\.?\s*#?\d+\w*)?",
        0,
    ),
    ("ZIP", rf"\b{_STATES}\s+(\d{{5}}(?:-\d{{4}})?)\b", 1),
    (
        "ZIP",
        r"(?i)\b(?:zip|zip code|postcode|postal code)[\s:#.]*"
        r"(\d{5}(?:-\d{4})?|[a-z0-9]{3,4} ?[a-z0-9]{3})\b",
        1,
    ),
    ("ZIP", r"\b[A-Z]{1,2}\d[A-Z\d]? \d[A-Z]{2}\b", 0),
    ("DATE", r"\b\d{4}-\d{2}-\d{2}\b", 0),
    ("DATE", r"\b\d{1,2}[/.-]\d{1,2}[/.-](?:\d{4}|\d{2})\b", 0),
    ("DATE", rf"(?i)\b\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTH},?\s+\d{{4}}\b", 0),
    ("DATE", rf"(?i)\b{_MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{4}}\b", 0),
    (
        "DATE",
        rf"(?i)\b(?:born|dob|d\.o\.b\.?|date of birth|admitted|discharged|died|deceased|"
        rf"admission|discharge|date of death)(?: on| in)?[\s:]+"
        rf"((?:{_MONTH}\s+)?\d{{4}}|{_MONTH}\s+\d{{1,2}})\b",
        1,
    ),
    (
        "AGE",
        r"(?i)\b((?:9\d|1[0-4]\d))(?=\s*(?:-|\s)?\s*(?:years?|yrs?|y/?o|yo)\b(?:[\s-]*old)?)",
        1,
    ),
    ("AGE", r"(?i)\b(?:aged?|age:)\s*((?:9\d|1[0-4]\d))\b", 1),
    ("AGE", r"\b((?:9\d|1[0-4]\d))(?=\s?[MF]\b)", 1),
)

_TITLE = r"(?:mr|mrs|ms|miss|mx|dr|prof|professor|sir|dame|nurse|patient|pt|mother|father)\.?"
_STRONG_CUE = re.compile(
    rf"(?i)(?:\b{_TITLE}\s+|\b(?:my name is|name is|i am|i'm|this is|named|called|name:|"
    rf"patient:|signed|regards,|dear|relative|wife|husband|son|daughter|carer)\s+)$"
)
_WEAK_CUE = re.compile(r"(?i)\b(?:from|for|with|about|see|saw|and|tell|ask|told|asked|by)\s+$")
_TITLE_ONLY = re.compile(rf"(?i)\b{_TITLE}\s+$")
_WORD = re.compile(r"\b[A-Z][a-z]*(?:['-][A-Z][a-z]+)+\b|\b[A-Z][a-z]+\b")
_EPONYM_NEXT = re.compile(
    r"^(?:'s)?\s+(?:disease|syndrome|sign|palsy|sarcoma|lymphoma|criteria|score|classification|"
    r"procedure|test|law|lines?|phenomenon|reflex|triad|manoeuvre|maneuver|tumou?r|ulcer|node)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class PhiSpan:
    """One identifier found in a text: its type and character span."""

    kind: PhiType
    start: int
    end: int


@dataclass(frozen=True)
class Redaction:
    """A redacted text and how many identifiers of each type it replaced (never the values)."""

    text: str
    counts: dict[str, int]


class PhiRedactor:
    """Finds Safe Harbor identifiers with patterns, a name lexicon and context cues."""

    def __init__(self) -> None:
        self._patterns = [(kind, re.compile(p), group) for kind, p, group in _PATTERNS]
        self._first, self._last = name_lexicon()

    def find(self, text: str) -> list[PhiSpan]:
        """Non-overlapping identifier spans, in text order; placeholders are never matched."""
        taken = [(m.start(), m.end()) for m in PLACEHOLDER.finditer(text)]
        spans: list[PhiSpan] = []

        def claim(kind: PhiType, start: int, end: int) -> None:
            if start < end and all(end <= s or start >= e for s, e in taken):
                taken.append((start, end))
                spans.append(PhiSpan(kind, start, end))

        for kind, pattern, group in self._patterns:
            for match in pattern.finditer(text):
                claim(kind, match.start(group), match.end(group))
        for start, end in self._names(text):
            claim("PERSON", start, end)
        return sorted(spans, key=lambda s: s.start)

    def _names(self, text: str) -> list[tuple[int, int]]:
        """Runs of capitalised words that the lexicon or a context cue marks as a person's name."""
        words = list(_WORD.finditer(text))
        found: list[tuple[int, int]] = []
        i = 0
        while i < len(words):
            run = [words[i]]
            while (
                i + len(run) < len(words)
                and len(run) < 4
                and text[run[-1].end() : words[i + len(run)].start()] in (" ", "-")
            ):
                run.append(words[i + len(run)])
            run = self._name_run(text, run)
            if run:
                found.append((run[0].start(), run[-1].end()))
                i = words.index(run[-1]) + 1
            else:
                i += 1
        return found

    def _name_run(self, text: str, run: list[re.Match[str]]) -> list[re.Match[str]]:
        """The leading part of `run` that is a name, or [] when it is not one."""
        lowered = [w.group(0).lower() for w in run]
        if len(run) == 1 and _EPONYM_NEXT.match(text[run[-1].end() :]):
            return []
        before = text[max(0, run[0].start() - 40) : run[0].start()]
        strong = bool(_STRONG_CUE.search(before))
        weak = bool(_WEAK_CUE.search(before))
        known = [w in self._first or w in self._last for w in lowered]
        if lowered[0] in COMMON_NAMES_BLOCK:
            return []
        if len(run) >= 2 and (strong or (known[0] and lowered[1] not in COMMON_NAMES_BLOCK)):
            return run[:2]
        if strong or (known[0] and weak):
            return run[:1]
        if lowered[0] in self._first and not _sentence_start(text, run[0]):
            return run[:1]
        return []

    def redact(self, text: str, vault: PhiVault) -> Redaction:
        """Replace every identifier with its thread placeholder; the vault learns new values."""
        counts: Counter[str] = Counter()
        pieces: list[str] = []
        cursor = 0
        for span in self.find(text):
            pieces.append(text[cursor : span.start])
            pieces.append(vault.placeholder_for(span.kind, text[span.start : span.end]))
            counts[span.kind] += 1
            cursor = span.end
        pieces.append(text[cursor:])
        return Redaction("".join(pieces), dict(counts))


def _sentence_start(text: str, word: re.Match[str]) -> bool:
    """Whether `word` opens a sentence (where any word is capitalised)."""
    before = text[: word.start()].rstrip()
    return not before or before[-1] in ".!?:\n\"'("
