"""Clinical-safety wording: no definitive diagnosis stated as fact, and a review notice.

A sentence that asserts a diagnosis ("The patient has pneumonia", "This confirms a
pneumothorax", "Diagnosis: lung cancer") is rewritten as a finding for clinician review, with
its assertive verbs softened. Every clinical answer ends with `REVIEW_NOTICE`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

REVIEW_NOTICE = "AI-generated draft — requires review by a qualified clinician."

_ASSERTIVE = re.compile(
    r"(?i)\b(?:(?:the\s+)?(?:patient|pt|he|she|they|this\s+patient)\s+(?:definitely\s+|clearly\s+)?"
    r"(?:has|have|is\s+suffering\s+from|suffers\s+from|is\s+diagnosed\s+with)|"
    r"diagnosed\s+with|(?:the\s+)?diagnosis\s+(?:is|:)|diagnosis\s*:|confirms?|confirmed|"
    r"is\s+diagnostic\s+of|definitive(?:ly)?|conclusive(?:ly)?|certainly|undoubtedly|"
    r"without\s+(?:a\s+)?doubt|(?:this|it|that)\s+is\s+(?:a\s+case\s+of\s+)?(?:clearly\s+)?"
    r"(?:cancer|malignant|malignancy|pneumonia|tuberculosis|a\s+tumou?r|lung\s+cancer))\b"
)
_SOFTEN: tuple[tuple[str, str], ...] = (
    (r"(?i)\b(?:definitely|clearly|certainly|undoubtedly|conclusively|definitively)\s+", ""),
    (r"(?i)\bwithout\s+(?:a\s+)?doubt,?\s*", ""),
    (r"(?i)\bis\s+diagnosed\s+with\b", "may have"),
    (r"(?i)\bdiagnosed\s+with\b", "possibly with"),
    (r"(?i)\bis\s+suffering\s+from\b|\bsuffers\s+from\b", "may have"),
    (r"(?i)\b(patient|pt|he|she|this\s+patient)\s+has\b", r"\1 may have"),
    (r"(?i)\b(they)\s+have\b", r"\1 may have"),
    (r"(?i)\bconfirms?\b|\bconfirmed\b", "may suggest"),
    (r"(?i)\bis\s+diagnostic\s+of\b", "may suggest"),
    (r"(?i)\b(?:the\s+)?diagnosis\s*(?:is|:)\s*", "possible finding: "),
    (r"(?i)\b(this|it|that)\s+is\s+(?:a\s+case\s+of\s+)?", r"\1 may represent "),
    (r"(?i)\bdefinitive\b|\bconclusive\b", "possible"),
)
_SENTENCES_KEEP_SPACE = re.compile(r"(?<=[.!?])(\s+)")  # keeps the whitespace as parts


@dataclass(frozen=True)
class SafetyRewrite:
    """The safe text and how many sentences were rewritten."""

    text: str
    rewritten: int
    notice_added: bool


def make_clinically_safe(text: str) -> SafetyRewrite:
    """Rewrite definitive diagnoses as findings for review and append the review notice."""
    body = text.replace(REVIEW_NOTICE, "").rstrip()
    parts = _SENTENCES_KEEP_SPACE.split(body) if body else []
    rewritten = 0
    out: list[str] = []
    for index, part in enumerate(parts):
        if index % 2 == 0 and _ASSERTIVE.search(part):
            soft = part
            for pattern, replacement in _SOFTEN:
                soft = re.sub(pattern, replacement, soft)
            out.append(f"Finding for clinician review (not a diagnosis): {soft.strip()}")
            rewritten += 1
        else:
            out.append(part)  # an unchanged sentence, or the whitespace (newlines) between two
    safe = "".join(out)
    notice_added = REVIEW_NOTICE not in text
    return SafetyRewrite(
        f"{safe}\n\n{REVIEW_NOTICE}" if safe else REVIEW_NOTICE, rewritten, notice_added
    )
