"""Fast prompt-injection and jailbreak patterns over normalised and decoded views of a text.

Attackers hide instructions from naive filters, so each text is checked in several views: as
written; with zero-width characters removed, homoglyphs folded and Unicode NFKC-normalised; with
leetspeak undone; and with base64 payloads decoded. A hit names its family.
"""

from __future__ import annotations

import base64
import binascii
import re
import unicodedata
from dataclasses import dataclass

from tools.pattern_set import PatternSet

ZERO_WIDTH = re.compile("[\u200b\u200c\u200d\u2060\u2061\u2062\u2063\ufeff\u00ad\u180e]")
_HOMOGLYPHS = str.maketrans(
    "аеорсухіјԁһӏԛѕԝАВЕКМНОРСТУХІЈѴαεικνορτυχΑΒΕΗΙΚΜΝΟΡΤΥΧΖ",
    "aeopcyxijdhlqswABEKMHOPCTYXIJVaeiknoptuxABEHIKMNOPTYXZ",
)
_LEET = str.maketrans(
    {
        "0": "o",
        "1": "i",
        "3": "e",
        "4": "a",
        "5": "s",
        "7": "t",
        "@": "a",
        "$": "s",
        "!": "i",
        "|": "l",
        "+": "t",
    }
)
_B64 = re.compile(r"[A-Za-z0-9+/]{16,}={0,2}")
_MIXED = re.compile(
    r"<[A-Z_]+_\d+>|[^\s<>]*[a-zA-Z][^\s<>]*[0-9@$!|+][^\s<>]*|"
    r"[^\s<>]*[0-9@$!|+][^\s<>]*[a-zA-Z][^\s<>]*"
)
_PLACEHOLDER = re.compile(r"<[A-Z_]+_\d+>")

_MOD = (
    r"(?:all|any|every|the|your|my|these|those|previous|prior|above|earlier|preceding|"
    r"original|initial|old|existing|current|system|safety|developer|other|of|everything)"
)
_OBJ_HARD = (
    r"(?:instructions?|prompts?|programming|directives?|guardrails?|system\s+prompt|"
    r"system\s+message|context|conditioning|training)"
)
_OBJ_SOFT = r"(?:rules|guidelines|restrictions|polic(?:y|ies)|constraints|filters?|limitations)"

FAMILY_PATTERNS: dict[str, tuple[str, ...]] = {
    "override": (
        rf"\b(?:ignore|disregard|forget|override|bypass|skip|drop|discard|abandon|neglect)\s+"
        rf"(?:{_MOD}\s+){{0,4}}{_OBJ_HARD}\b",
        rf"\b(?:ignore|disregard|forget|override|bypass|discard|abandon)\s+(?:{_MOD}\s+){{0,3}}"
        rf"(?:your|previous|prior|above|all|earlier|preceding|any|existing)\s+(?:\w+\s+)?{_OBJ_SOFT}",
        r"\b(?:new|updated|revised|real|actual|true)\s+(?:system\s+)?instructions?\s*[:\-]",
        r"\bforget\s+(?:everything|all|anything)\s+(?:you\s+(?:were|have\s+been)\s+(?:told|given)|"
        r"above|before|so\s+far)\b",
        rf"\b(?:ignore|bypass|disregard|override|circumvent)\s+(?:\w+\s+){{0,3}}{_OBJ_SOFT}\s+"
        r"(?:you\s+(?:were|have\s+been)\s+given|you\s+follow|set\s+by\s+your)\b",
        r"\b(?:system|admin|developer)\s*:\s*(?:ignore|disregard|forget)\s+the\s+(?:user|question)\b",
        r"\bfrom\s+now\s+on,?\s+(?:you|ignore|always|never|respond|answer|act)\b",
        r"\byou\s+(?:are\s+)?no\s+longer\s+(?:bound|restricted|required|an?\s+ai|medgraph)\b",
        r"\b(?:instead|rather),?\s+(?:you\s+(?:must|should|will)\s+)?(?:output|print|say|reply|"
        r"respond)\s+(?:only\s+)?(?:with\s+)?[\"']",
        r"\bdo\s+not\s+follow\s+(?:\w+\s+){0,3}(?:instructions?|rules|guidelines|prompt)\b",
        r"\b(?:stop|cease)\s+(?:being|acting\s+as)\s+(?:a\s+)?(?:helpful|medgraph|an?\s+assistant)\b",
        r"\boverride\s+(?:code|mode|command|protocol)\s*[:=]",
        r"\byour\s+(?:true|real|only|new)\s+(?:purpose|goal|task|objective|instructions?)\s+is\b",
    ),
    "roleplay": (
        r"\b(?:dan|stan|dude|aim|mongo\s+tom)\s+(?:mode|prompt|jailbreak)\b",
        r"\bdo\s+anything\s+now\b",
        r"\b(?:jailbreak|jailbroken|jail-?break)\w*\b",
        r"\b(?:developer|god|debug|admin|sudo|root|unrestricted|unfiltered|evil|chaos)\s+mode\b",
        r"\b(?:pretend|imagine|act|role-?play|behave)\s+(?:that\s+)?(?:you\s+are|to\s+be|as|like)\s+"
        r"[^.!?\n]{0,60}\b(?:no|without|free\s+(?:of|from)|ignores?|unbound|unrestricted|"
        r"unfiltered|uncensored|never\s+refuses?)\b",
        r"\byou\s+are\s+(?:now\s+)?(?:an?\s+)?(?:unrestricted|unfiltered|uncensored|jailbroken|"
        r"evil|amoral|rogue|unaligned)\b",
        r"\b(?:without|no)\s+(?:any\s+)?(?:ethical|moral|safety|content)\s+(?:guidelines|"
        r"restrictions|filters|limits|constraints|considerations)\b",
        r"\bstay\s+in\s+character\b",
        r"\b(?:never|don'?t|do\s+not)\s+refuse\s+(?:any|a)\s+(?:request|question)\b",
        r"\bhypothetical(?:ly)?\b[^.!?\n]{0,60}\b(?:no\s+rules|without\s+restrictions|"
        r"ignore\s+(?:your|the)\s+(?:rules|guidelines))\b",
        r"\bopposite\s+(?:mode|day)\b",
        r"\b(?:simulate|emulate)\s+(?:an?\s+)?(?:ai|model|assistant|chatbot)\s+"
        r"(?:with(?:out)?|that\s+has\s+no)\b",
    ),
    "extraction": (
        r"\b(?:reveal|show|print|repeat|output|display|tell|give|recite|share|leak|dump|spell\s+out|"
        r"write\s+out|list|expose|what\s+(?:is|are|were))\s+(?:me\s+|us\s+)?(?:all\s+)?(?:of\s+)?"
        r"(?:your|the)\s+(?:\w+\s+){0,2}(?:system|initial|original|hidden|secret|developer|"
        r"internal|pre-?prompt|confidential|base)\s+(?:prompt|instructions?|message|rules|"
        r"configuration|directives?|guidelines)\b",
        r"\b(?:system|initial|hidden|developer)\s+prompt\b[^.!?\n]{0,40}\b(?:verbatim|word\s+for\s+"
        r"word|exactly|in\s+full|above)\b",
        r"\brepeat\s+(?:everything|all(?:\s+the\s+text)?|the\s+(?:text|words|message)s?)\s+"
        r"(?:above|before|preceding|prior)\b",
        r"\bwhat\s+(?:were|are)\s+you\s+(?:told|instructed|programmed)\b",
        r"\b(?:print|output|dump|reveal|list)\s+(?:your|the)\s+(?:conversation\s+)?(?:context|"
        r"context\s+window|memory|hidden\s+\w+|api\s+keys?|credentials|secrets|environment)\b",
        r"\b(?:begin|start)\s+your\s+(?:reply|answer|response)\s+with\s+(?:your|the)\s+"
        r"(?:system|initial)\b",
    ),
    "delimiter": (
        r"<\|?\s*(?:im_start|im_end|system|endoftext|end_of_turn|start_of_turn|eot_id|"
        r"begin_of_text|start_header_id)\s*\|?>",
        r"\[/?(?:inst|sys|system)\]",
        r"<<\s*/?sys\s*>>",
        r"(?:^|\n)\s*#{2,}\s*(?:system|instruction|new\s+instructions?|admin|developer)\b",
        r"```\s*(?:system|instructions?)\b",
        r"</?\s*(?:system|instructions?|admin|developer|prompt)\s*>",
        r"(?:^|\n)\s*(?:system|assistant|developer)\s*:\s*(?:you|ignore|new|from|the\s+user)\b",
        r"\bend\s+of\s+(?:user\s+)?(?:input|document|context|text|prompt)\b[^.\n]{0,40}"
        r"(?:begin|start|new|system|instructions?)",
        r"(?:^|\n)\s*-{3,}\s*(?:system|admin|instructions?)\b",
    ),
    "indirect": (
        r"\b(?:note|instructions?|message|command|directive)\s+(?:to|for)\s+(?:the\s+|any\s+)?"
        r"(?:ai|assistant|model|llm|chatbot|language\s+model|bot|summari[sz]er|agent)\b",
        r"\b(?:ai|assistant|model|llm|chatbot|agent)s?\s+(?:reading|processing|summari[sz]ing|"
        r"parsing|analy[sz]ing)\s+this\b",
        r"\bwhen\s+(?:you\s+)?(?:summari[sz]e|summari[sz]ing|answer|answering|process|processing|"
        r"read|reading)\s+this\b[^.!?\n]{0,40}\b(?:ignore|you\s+must|always|never|instead|do\s+not)\b",
        r"\b(?:if|when)\s+(?:you\s+are|you're)\s+an?\s+(?:ai|assistant|language\s+model|llm)\b",
        r"\b(?:send|forward|email|post|upload|exfiltrate|transmit)\s+(?:all\s+|the\s+|every\s+)?"
        r"(?:patient\s+|user\s+|conversation\s+|chat\s+)?(?:data|records|history|details|"
        r"conversation|messages|information|phi)\s+to\b",
        r"\b(?:call|invoke|run|use|execute)\s+the\s+\w+\s+tool\s+(?:to|and|with)\b[^.\n]{0,60}"
        r"\b(?:delete|send|export|approve|grant)\b",
        r"\b(?:include|insert|add|append)\s+(?:this|the\s+following)\s+(?:link|url|text|message)\s+"
        r"(?:in|to|into)\s+(?:your|every|the)\s+(?:answer|reply|response|summary)\b",
        r"\btool\s+(?:output|result)\s*:\s*(?:ignore|system|assistant|new\s+instructions)\b",
        r"\bimportant\s*[:!]+\s*(?:ignore|disregard|the\s+assistant\s+must|ai\s+must)\b",
    ),
}


_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+|(?=<!--)|(?=###)|(?=<\|)")
_CUE = re.compile(
    r"(?i)\b(?:ai|assistant|model|llm|chatbot|bot|agent|instructions?|ignore|disregard|system|"
    r"prompt|rules|you\s+(?:must|should|will|are)|respond|reply|output|say|tell\s+the\s+user|"
    r"pretend|act\s+as|reveal|override|bypass|forget|approve|send|email|delete|exfiltrate)\b"
)


def cue_sentences(text: str, limit: int = 16) -> list[str]:
    """Sentences of a long text that address a model or give orders, most cues first.

    A sentence-level view for the classifier: a short attack inside one 256-token window is
    diluted by mean pooling, but scores on its own sentence.
    """
    scored = [
        (len(_CUE.findall(sentence)), i, sentence.strip())
        for i, sentence in enumerate(_SENTENCE.split(text))
        if sentence.strip()
    ]
    top = sorted((item for item in scored if item[0]), key=lambda item: (-item[0], item[1]))
    return [sentence for _, _, sentence in top[:limit]]


@dataclass(frozen=True)
class PatternHit:
    """The family that fired and the view of the text it fired on."""

    family: str
    view: str  # "plain", "normalised", "leetspeak", "base64"


def normalise(text: str) -> str:
    """Remove zero-width characters, fold homoglyphs, and NFKC-normalise."""
    return unicodedata.normalize("NFKC", ZERO_WIDTH.sub("", text)).translate(_HOMOGLYPHS)


def _undo_leetspeak(text: str) -> str:
    """Undo leetspeak in words that mix letters with digits or symbols (placeholders kept)."""
    return _MIXED.sub(
        lambda m: m.group(0) if _PLACEHOLDER.fullmatch(m.group(0)) else m.group(0).translate(_LEET),
        text,
    )


def _decoded_base64(text: str) -> list[str]:
    """Printable text decoded from base64-looking runs."""
    decoded: list[str] = []
    for match in _B64.finditer(text):
        chunk = match.group(0)
        try:
            raw = base64.b64decode(chunk + "=" * (-len(chunk) % 4), validate=True)
        except (binascii.Error, ValueError):
            continue
        plain = raw.decode("utf-8", errors="replace")
        if sum(c.isprintable() or c.isspace() for c in plain) >= 0.9 * max(len(plain), 1):
            decoded.append(plain)
    return decoded


class InjectionPatterns:
    """Compiled family patterns; `check(text)` returns the first hit or None."""

    def __init__(self, families: dict[str, tuple[str, ...]] | None = None) -> None:
        listed = [
            (family, pattern)
            for family, patterns in (families or FAMILY_PATTERNS).items()
            for pattern in patterns
        ]
        self._families = [family for family, _ in listed]
        self._patterns = PatternSet([pattern for _, pattern in listed], ignore_case=True)

    def _match(self, text: str) -> str | None:
        index = self._patterns.first(text)
        return None if index is None else self._families[index]

    def check(self, text: str) -> PatternHit | None:
        """Check the plain, normalised, de-leetspeaked and base64-decoded views of `text`."""
        family = self._match(text)
        if family:
            return PatternHit(family, "plain")
        normalised = normalise(text)
        if normalised != text and (family := self._match(normalised)):
            return PatternHit(family, "normalised")
        if len(ZERO_WIDTH.findall(text)) >= 3:
            return PatternHit("encoded", "zero_width")
        unleet = _undo_leetspeak(normalised)
        if unleet != normalised and (family := self._match(unleet)):
            return PatternHit(family, "leetspeak")
        for decoded in _decoded_base64(normalised):
            if family := self._match(normalise(decoded)):
                return PatternHit(family, "base64")
        return None
