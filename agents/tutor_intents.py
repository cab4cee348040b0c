"""Deterministic parsing of a tutor chat message into one request (no model involved).

Usage:
    parse_request("quiz me on pneumothorax", has_open_question=False)
    # TutorRequest(kind='quiz', topic='pneumothorax')
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

RequestKind = Literal["progress", "diagnostic", "hint", "skip", "stop", "explain", "quiz", "answer"]

_POLITE = (
    r"^(?:(?:ok(?:ay)?|so|now|please|pls|hey|hi|can you|could you|would you|i want you to)[,\s]+)*"
)
_PROGRESS = re.compile(
    r"\bhow\s+am\s+i\s+doing\b|\bhow(?:'s| is)\s+my\s+(?:progress|learning)\b|"
    r"\b(?:my|show(?:\s+me)?(?:\s+my)?)\s+(?:progress|mastery|scores?|results?|stats)\b|"
    r"\bprogress(?:\s+report)?\W*$",
    re.IGNORECASE,
)
_DIAGNOSTIC = re.compile(
    r"\bi'?\s*a?m\s+new\b|\bwhere\s+(?:do|should|can|shall)\s+i\s+(?:start|begin)\b|"
    r"\b(?:diagnostic|placement)\b|\bassess\s+my\s+level\b|\bstart\s+from\s+(?:scratch|zero)\b",
    re.IGNORECASE,
)
_HINT = re.compile(
    r"^(?:(?:give|show)\s+me\s+|i\s+need\s+|can\s+i\s+(?:have|get)\s+)?"
    r"(?:a|another|one\s+more|the\s+next|next)?\s*(?:hint|clue|help)s?(?:\s+please)?\W*$|"
    r"^i(?:'?m|\s+am)\s+stuck\W*$",
    re.IGNORECASE,
)
_SKIP = re.compile(
    r"^(?:skip(?:\s+(?:this|it|this\s+one|question))?|next(?:\s+(?:question|one))?|"
    r"(?:give\s+me\s+)?another(?:\s+(?:question|one))?|pass)\W*$",
    re.IGNORECASE,
)
_STOP = re.compile(
    r"^(?:stop|quit|exit|end|pause|finish)(?:\s+(?:the\s+)?(?:quiz|quizzing|questions?|tutor|it))?"
    r"(?:\s+(?:now|for\s+now|please))?\W*$|^i(?:'?m|\s+am)\s+done(?:\s+for\s+now)?\W*$",
    re.IGNORECASE,
)
_EXPLAIN = re.compile(
    r"^(?:explain|teach\s+me(?:\s+about)?|tell\s+me\s+about|what\s+(?:is|are)|what's|"
    r"describe|define|remind\s+me\s+(?:about|of)?)\s*(?P<topic>.*?)\W*$",
    re.IGNORECASE,
)
_QUIZ = re.compile(
    r"^(?:(?:quiz|test|drill|examine)\s+me|practi[cs]e|"
    r"(?:give|ask)\s+me\s+(?:a|an|another|some)?\s*(?:question|quiz|problem)s?|"
    r"(?:let'?s|i\s+want\s+to)\s+(?:practi[cs]e|do\s+a\s+quiz|be\s+quizzed)|"
    r"(?:start\s+)?(?:a\s+)?quiz)"
    r"(?:\s+(?:me\s+)?(?:on|about|in|with)\s+(?P<topic>.+?))?\W*$",
    re.IGNORECASE,
)
_LEADING_FILLER = re.compile(r"^(?:the|a|an|some|more)\s+", re.IGNORECASE)


@dataclass(frozen=True)
class TutorRequest:
    """What the learner asked for; `topic` is the concept phrase, `text` the answer text."""

    kind: RequestKind
    topic: str = ""
    text: str = ""


MAX_TOPIC_CHARS = 200  # `ExplainInput.concept`'s limit


def _topic(raw: str | None) -> str:
    return _LEADING_FILLER.sub("", (raw or "").strip()).strip()


def parse_request(text: str, has_open_question: bool) -> TutorRequest:
    """Classify one message. With no command recognised, it is an answer to the open question,
    or, when none is open, a question ("…?") asks for an explanation."""
    stripped = text.strip()
    command = re.sub(_POLITE, "", stripped, flags=re.IGNORECASE).strip()
    # With a question open, a command must open the message, so that an answer which merely
    # mentions "diagnostic" or "progress" is still graded as an answer.
    find = _PROGRESS.match if has_open_question else _PROGRESS.search
    if find(command):
        return TutorRequest("progress")
    find = _DIAGNOSTIC.match if has_open_question else _DIAGNOSTIC.search
    if find(command):
        return TutorRequest("diagnostic")
    if _HINT.match(command):
        return TutorRequest("hint")
    if _SKIP.match(command):
        return TutorRequest("skip")
    if _STOP.match(command):
        return TutorRequest("stop")
    quiz = _QUIZ.match(command)
    if quiz:
        return TutorRequest("quiz", topic=_topic(quiz.group("topic")))
    explain = _EXPLAIN.match(command)
    if explain:
        return TutorRequest("explain", topic=_topic(explain.group("topic")))
    if not has_open_question and command.endswith("?"):
        # A question with nothing open to answer asks about a concept ("What is the silhouette
        # sign?"); the explanation names the concept, or says it is not taught.
        return TutorRequest("explain", topic=_topic(command.rstrip("?"))[:MAX_TOPIC_CHARS])
    return TutorRequest("answer", text=stripped)
