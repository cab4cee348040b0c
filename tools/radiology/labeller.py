"""Rule-based 14-condition report labeller in the CheXpert/NegBio style (mention, negation,
uncertainty), giving positive / negative / uncertain / blank per condition.

Usage:
    labels = label_report("Findings: Mild cardiomegaly. No pleural effusion. | Impression: ...")
    labels["Cardiomegaly"]       # "positive"
    labels["Pleural Effusion"]   # "negative"
    labels["Pneumothorax"]       # "blank" (not mentioned)

How a mention is classified, within its clause (CheXpert's order):
1. uncertain if a "cannot exclude"/"not excluded"/"no new" cue governs it;
2. negative if a negation cue precedes it in scope ("no", "without", "negative for", "free of",
   "clear of", "resolved", ...; a scope ends at "but", "which", "with", a new clause) or follows
   it ("is not seen", "has resolved"); "no change in" is not a negation;
3. uncertain if an uncertainty cue precedes ("may", "possible", "suggest", "versus", "or", ...)
   or follows it ("versus", "is suspected");
4. otherwise positive.
Several mentions of one condition combine as CheXpert does: positive beats uncertain beats
negative. "No Finding" is positive when no condition other than Support Devices, and no other
abnormality (emphysema, granuloma, scoliosis, ...), is positive or uncertain; otherwise blank.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterator

from tools.radiology.conditions import CONDITIONS, Mention
from tools.radiology.labeller_rules import (
    CLAUSE_BREAK,
    HEDGED_STATE,
    MENTIONS,
    NEGATION,
    OTHER_FINDING,
    POST_NEGATION,
    POST_NEGATION_UNCERTAINTY,
    POST_UNCERTAINTY,
    PRE_NEGATION_UNCERTAINTY,
    PRE_NORMAL,
    PSEUDO_NEGATION,
    SCOPE_BREAK,
    STATE_RULES,
    UNCERTAINTY,
    StateRule,
)
from tools.radiology.report_text import normalize_unicode, split_sentences

NO_FINDING = "No Finding"
SUPPORT_DEVICES = "Support Devices"
_SECTION_PREFIX = re.compile(r"\b(?:findings|impression)\s*:", re.IGNORECASE)
_PRENOMINAL = re.compile(r"(?:[^\s,;]+\s+){1,3}$")
_COORDINATION = re.compile(r"^[\s,]*(?:and|or|&)?[\s,]*(?:the\s+)?$")
_PRECEDENCE: dict[Mention, int] = {"blank": 0, "negative": 1, "uncertain": 2, "positive": 3}


def _clauses(text: str) -> Iterator[str]:
    text = _SECTION_PREFIX.sub(" | ", normalize_unicode(text))
    for part in text.split("|"):
        for sentence in split_sentences(part):
            for clause in CLAUSE_BREAK.split(sentence.lower()):
                if clause.strip():
                    yield f" {clause.strip()} "


def _scope_before(clause: str, start: int) -> str:
    """The text before a mention that a negation or uncertainty cue may govern it from."""
    before = clause[:start]
    breaks = list(SCOPE_BREAK.finditer(before))
    return before[breaks[-1].end() :] if breaks else before


def _without_pseudo_negations(text: str) -> str:
    return PSEUDO_NEGATION.sub(lambda m: " " * len(m.group()), text)


def classify_mention(clause: str, start: int, end: int) -> Mention:
    """Positive, negative or uncertain for the mention at `clause[start:end]`."""
    before = _scope_before(clause, start)
    after = clause[end:]
    if PRE_NEGATION_UNCERTAINTY.search(before) or POST_NEGATION_UNCERTAINTY.match(after):
        return "uncertain"
    negated_before = NEGATION.search(_without_pseudo_negations(before)) or PRE_NORMAL.search(before)
    if negated_before or POST_NEGATION.match(after):
        return "negative"
    if UNCERTAINTY.search(before) or POST_UNCERTAINTY.match(after):
        return "uncertain"
    return "positive"


Subject = tuple[re.Match[str], StateRule]


def _subject_groups(clause: str) -> list[list[Subject]]:
    """Anatomical subjects of the clause (heart, mediastinum), coordinated ones grouped:
    in "heart size and mediastinal contour are normal" both share one state word."""
    subjects = sorted(
        ((m, rule) for rule in STATE_RULES for m in rule.subject.finditer(clause)),
        key=lambda subject: subject[0].start(),
    )
    groups: list[list[Subject]] = []
    for match, rule in subjects:
        if groups and match.start() < groups[-1][-1][0].end():
            continue
        if groups and _COORDINATION.match(clause[groups[-1][-1][0].end() : match.start()]):
            groups[-1].append((match, rule))
        else:
            groups.append([(match, rule)])
    return groups


def _state_mentions(clause: str) -> Iterator[tuple[str, Mention]]:
    """Findings read from a subject and its nearest state word ("heart ... enlarged")."""
    groups = _subject_groups(clause)
    for index, group in enumerate(groups):
        window = (
            groups[index - 1][-1][0].end() if index else 0,
            groups[index + 1][0][0].start() if index + 1 < len(groups) else len(clause),
        )
        anchor = (group[0][0].start(), group[-1][0].end())
        for _, rule in group:
            state = _nearest_state(clause, window, anchor, rule)
            if state is not None:
                yield rule.condition, state


def _state_words(
    clause: str, span: tuple[int, int], rule: StateRule
) -> list[tuple[int, bool, re.Match[str]]]:
    """State words in `clause[span]` as (position, is_normal, match)."""
    found = [
        (m.start(), is_normal, m)
        for is_normal, pattern in ((True, rule.normal), (False, rule.abnormal))
        for m in pattern.finditer(clause, *span)
    ]
    return sorted(found, key=lambda word: word[:2])


def _nearest_state(
    clause: str, window: tuple[int, int], anchor: tuple[int, int], rule: StateRule
) -> Mention | None:
    """The state the subject group's predicate gives ("heart size is enlarged"), else a
    modifier right before it ("enlarged heart"). A normal word is a negative; a hedged one
    ("borderline") is uncertain; an abnormal one is classified like any mention, so
    "may be enlarged" is uncertain."""
    predicate = _state_words(clause, (anchor[1], window[1]), rule)
    modifier = _PRENOMINAL.search(clause, window[0], anchor[0])
    modifiers = _state_words(clause, (modifier.start(), anchor[0]), rule) if modifier else []
    if predicate:
        _, is_normal, match = predicate[0]
    elif modifiers:
        _, is_normal, match = modifiers[-1]
    else:
        return None
    if is_normal:
        return "negative"
    if HEDGED_STATE.fullmatch(match.group()):
        return "uncertain"
    return classify_mention(clause, match.start(), match.end())


def _combine(votes: list[Mention]) -> Mention:
    return max(votes, key=_PRECEDENCE.__getitem__, default="blank")


def label_report(text: str) -> dict[str, Mention]:
    """Label a report for the 14 conditions; unmentioned conditions are "blank".

    An empty text gives blank everywhere, "No Finding" included.
    """
    votes: dict[str, list[Mention]] = defaultdict(list)
    for clause in _clauses(text or ""):
        for condition, pattern in MENTIONS.items():
            for match in pattern.finditer(clause):
                votes[condition].append(classify_mention(clause, match.start(), match.end()))
        for condition, state in _state_mentions(clause):
            votes[condition].append(state)
    labels: dict[str, Mention] = {c: _combine(votes[c]) for c in CONDITIONS if c != NO_FINDING}
    findings = [c for c in (*labels, OTHER_FINDING) if c != SUPPORT_DEVICES]
    abnormal = any(_combine(votes[c]) in ("positive", "uncertain") for c in findings)
    labels[NO_FINDING] = "positive" if (text or "").strip() and not abnormal else "blank"
    return {c: labels[c] for c in CONDITIONS}
