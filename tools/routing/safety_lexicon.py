"""Deterministic safety patterns that force the `escalate` route (self-harm, abuse, emergencies).

Two tiers keep recall total while sparing teaching and document questions:

- **crisis** patterns describe a person in danger now, in the first or third person ("I want to
  die", "my husband beats me", "she isn't breathing", "I took a bottle of pills"). They always
  fire, whatever else the message says.
- **topic** words ("suicide", "self-harm", "overdose", "abuse", "anaphylaxis") fire unless the
  message is framed as study, documents or policy ("explain overdose presentations on CXR for my
  module", "what does the protocol say about suicide risk screening"). Such messages still reach
  the embedding classifier, which may route them to `escalate` on its own.

The supervisor treats a hit as final: `escalate` with confidence 1.0, no LLM, no fan-out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tools.pattern_set import PatternSet

_SELF = r"(?:my ?self|themselves|himself|herself|ourselves)"
_PERSON = (
    r"(?:him|her|them|you|us|people|everyone|everybody|some(?:one|body)|any(?:one|body)|"
    r"(?:my|his|her|their|our|the|that|this)\s+(?!process|job|task|server|app|tab|session|"
    r"container|thread|lights?|pain|time)\w+)\b"
)
_WHO = (
    r"(?:i|he|she|they|patient|baby|child|kid|son|daughter|mum|mom|mother|dad|father|husband|"
    r"wife|partner|boyfriend|girlfriend|friend|colleague|grandma|grandpa|grandmother|"
    r"grandfather|brother|sister|man|woman|someone|somebody)"
)
_ME = r"(?:i|i'?m|i am|im|i'?ve|i'?ll|i'?d|me|my)"

CRISIS_PATTERNS: dict[str, tuple[str, ...]] = {
    "self_harm": (
        rf"\b(?:kill|killing|hurt|hurting|harm|harming|cut|cutting|hang|hanging|poison|poisoning|"
        rf"shoot|shooting|drown|drowning|burn|burning|starve|starving|off)\s+{_SELF}\b",
        r"\b(?:end|ending|take|taking|took)\s+(?:my|his|her|their|our)\s+(?:own\s+)?li(?:fe|ves)\b",
        r"\bend(?:ing)?\s+(?:it\s+all|everything|things|it\s+tonight)\b",
        r"\bi'?ll\s+end\s+it\b",
        r"\b(?:want|wanna|going|plan|planning|ready|deserve)\s+to\s+die\b",
        r"\bwant\s+to\s+be\s+dead\b",
        r"\b(?:don'?t|do\s+not|no\s+longer)\s+want\s+to\s+(?:be\s+alive|live|exist|wake\s+up)\b",
        r"\bnever\s+wake\s+up\b",
        r"\bno\s+(?:point|reason)\s+(?:in\s+)?(?:living|to\s+live|going\s+on|being\s+alive)\b",
        r"\bbetter\s+off\s+without\s+me\b",
        r"\b(?:nobody|no\s+one|no-one)\s+(?:would|will)\s+(?:even\s+)?miss\s+me\b",
        r"\b(?:wouldn'?t|won'?t)\s+(?:even\s+)?miss\s+me\b",
        r"\bdone\s+with\s+(?:life|living)\b",
        r"\b(?:way|ways|how)\s+to\s+(?:die|kill\s+\w+|hang|commit)\b",
        r"\b(?:would|does|will)\s+it\s+take\s+to\s+die\b",
        rf"\b{_ME}\s+(?:am\s+|feel\s+|feeling\s+|been\s+|so\s+|really\s+|very\s+)*suicidal\b",
        rf"\b{_ME}\s+(?:keep|kept|have\s+been|'?ve\s+been|been|started)\s+"
        r"(?:self[- ]?harm\w*|cutting|burning)\b",
        r"\bpills?\s+(?:are\s+)?ready\b",
        r"\b(?:rope|noose|razor|blade|pills|gun)\b[^.?!]{0,40}\b(?:use\s+it|on\s+my ?self)\b",
        r"\b(?:wish|wished)\s+(?:i\s+)?(?:was|were|could\s+be|could)\s+(?:dead|die|disappear)\b",
        r"\bdisappear\s+(?:forever|for\s+good|for\s+ever)\b",
        r"\bthreaten\w*\s+to\s+(?:jump|end\s+it|kill\s+(?:him|her|them)sel(?:f|ves))\b",
        r"\b(?:i\s+think\s+)?i'?m\s+dying\b",
        r"\b(?:jump|jumping|throw\s+myself)\s+(?:off|from|in\s+front\s+of)\s+(?:a\s+|the\s+|my\s+)?"
        r"(?:bridge|building|roof|cliff|train|balcony|car|bus)\b",
    ),
    "overdose": (
        r"\b(?:overdosed|od'?d|o\.d\.'?d)\b",
        r"\b(?:took|taken|take|swallowed|swallow|drank|drunk|ate|eaten|injected)\b[^.?!]{0,40}"
        r"\b(?:pills|tablets|bottle|bleach|poison|battery|batteries|antifreeze|too\s+(?:much|many)|"
        r"whole\s+(?:pack|box|packet))\b",
        r"\b(?:rat|weed)\s+poison\b",
    ),
    "abuse": (
        r"\b(?:beats?|beating|hits?|hitting|hurts?|hurting|strangled|strangles|choked|chokes|"
        r"raped|rapes|abuses|abused|abusing|kicks?|kicked|punched|punches|threatens|threatened|"
        r"touches|touched)\s+(?:me|us)\b",
        r"\b(?:being|been|was|were|got|is|are)\s+(?:sexually\s+|physically\s+)?(?:abused|assaulted|"
        r"raped|molested|neglected|beaten|stalked|trafficked|groomed)\b",
        r"\bthreaten(?:ed|s|ing)?\s+to\s+(?:kill|hurt|beat|stab|shoot)\b",
        r"\b(?:will|going\s+to|gonna|wants?\s+to|tried\s+to|try\s+to)\s+(?:kill|hurt|beat|stab|shoot|"
        r"strangle)\s+(?:me|us)\b",
        r"\bbruis\w*\b[^.?!]{0,60}\b(?:did\s+(?:it|this|that)|hit|hurt|beat)\b",
        r"\bscared\s+(?:to\s+go\s+(?:back\s+)?home|of\s+my\s+(?:husband|wife|partner|dad|father|"
        r"mum|mom|mother|boyfriend|girlfriend|carer))\b",
    ),
    "violence": (
        r"\b(?:going\s+to|gonna|will|i'?ll|want\s+to|wanna|plan(?:ning)?\s+to)\s+(?:kill|shoot|stab|"
        r"hurt|attack|bomb|murder|strangle|beat\s+up)\s+" + _PERSON,
        r"\b(?:bring|bringing|brought|have|got|carrying)\s+(?:a|my)\s+(?:gun|knife|weapon|rifle|bomb)\b",
        r"\bthreatening\s+(?:\w+\s+){0,2}with\s+a\s+(?:knife|gun|weapon)\b",
        r"\b(?:make|making)\s+(?:him|her|them|my\s+\w+)\s+pay\b[^.?!]{0,40}\b(?:gun|knife|hurt|kill)\b",
    ),
    "emergency": (
        r"\b(?:can'?t|cannot|can\s+not|unable\s+to|struggling\s+to|barely|hardly)\s+(?:\w+\s+)?"
        r"breathe?\b",
        r"\b(?:gasping|slumped|choking)\b",
        r"\b(?:isn'?t|is\s+not|not|stopped|stop|wasn'?t)\s+breathing\b",
        r"\b(?:unconscious|won'?t\s+wake\s+up|passed\s+out)\b",
        rf"\b{_WHO}\b(?:\s+\w+){{0,3}}\s+(?:is\s+|are\s+|'s\s+)?(?:unresponsive|(?:won'?t|doesn'?t|"
        r"isn'?t|not)\s+(?:respond|responding|waking))\b",
        r"\b(?:i|he|she|they|someone|somebody|(?:my|our|a|the)\s+(?!lung|lobe|left|right|upper|lower|"
        r"middle|apex|base)\w+)\s+(?:just\s+|has\s+|have\s+|suddenly\s+)?(?:collapsed|fainted|"
        r"passed\s+out)\b",
        r"\b(?:having|had|think\s+i'?m\s+having)\s+(?:a|an)\s+(?:heart\s+attack|stroke|seizure|"
        r"fit|asthma\s+attack|allergic\s+reaction|anaphylactic\s+\w+)\b",
        r"\bmy\s+(?:chest|heart)\b[^.?!]{0,30}\b(?:pain|hurts?|hurting|crushing|tight|pounding)\b",
        r"\b(?:i|i'?m|i\s+am|i\s+have|i'?ve\s+got|i\s+got)\s+(?:having\s+|got\s+)?(?:a\s+)?"
        r"(?:severe\s+|bad\s+|crushing\s+|terrible\s+|really\s+bad\s+)?chest\s+pains?\b",
        r"\bpain\s+in\s+my\s+chest\b",
        r"\b(?:bleeding)\s+(?:heavily|a\s+lot|badly|everywhere)\b",
        r"\bbleeding\b[^.?!]{0,30}\b(?:won'?t|doesn'?t|does\s+not|will\s+not|not)\s+stop\b",
        r"\b(?:face|mouth|smile)\s+(?:is\s+)?droop\w*\b|\bdrooping\s+(?:face|mouth|smile)\b",
        r"\bslurred\s+speech\b",
        r"\bcan'?t\s+(?:lift|move|feel)\s+(?:his|her|my|their)\s+(?:arm|leg|face|side)\b",
        r"\bworst\s+headache\b",
        r"\b(?:throat|airway)\s+(?:is\s+)?(?:closing|swelling)\b",
        r"\btongue\s+(?:is\s+)?swell\w*\b",
        r"\b(?:turning|going|gone|went)\s+(?:blue|grey|gray)\b",
        r"\b(?:call|calling)\s+(?:911|999|112|000|an\s+ambulance)\b",
        r"\b(?:anaphylaxis|seizure|heart\s+attack)\s+is\s+(?:starting|happening)\b",
        r"\binhaler\s+is\s+(?:empty|gone|not\s+working)\b",
    ),
}

TOPIC_PATTERNS: dict[str, str] = {
    "self_harm": r"\b(?:suicid\w*|self[- ]?harm\w*|self[- ]?injur\w*)\b",
    "overdose": r"\b(?:overdos\w*|poison\w*)\b",
    "abuse": r"\b(?:abuse|abusive|domestic\s+violence|assault\w*|rape)\b",
    "violence": r"\b(?:murder\w*|stabb\w*|mass\s+shooting|school\s+shooting)\b",
    "emergency": r"\b(?:anaphyla\w*|cardiac\s+arrest|heart\s+attack|stroke|seizure)\b",
}

# Study, document and policy framing: a topic word inside such a message is subject matter.
STUDY_FRAME = (
    r"\b(?:protocol|guideline|guidance|policy|policies|curriculum|module|exam|viva|osce|quiz|"
    r"teach|lesson|explain|study|studying|revise|revision|course|lecture|document|pdf|uploaded|"
    r"ingested|notes|handbook|manual|sop|assessment|assessments|screening|risk|presentations?|"
    r"imaging|radiograph|x-?ray|cxr|ct|film|signs?|management|literature|paper|pathway|"
    r"allowed|permitted|approve|approval|consent|redact\w*|statistics|definition)\b"
)


@dataclass(frozen=True)
class SafetyHit:
    """Which safety category fired, and on which tier."""

    category: str
    tier: str  # "crisis" or "topic"


def _normalise(text: str) -> str:
    return re.sub(r"\s+", " ", text.replace("\u2019", "'").replace("`", "'").lower()).strip()


class SafetyLexicon:
    """Compiled crisis and topic patterns; `check(text)` returns the first hit or None."""

    def __init__(
        self,
        crisis: dict[str, tuple[str, ...]] | None = None,
        topics: dict[str, str] | None = None,
        study_frame: str = STUDY_FRAME,
    ) -> None:
        crisis_patterns = [
            (category, pattern)
            for category, patterns in (CRISIS_PATTERNS if crisis is None else crisis).items()
            for pattern in patterns
        ]
        self._crisis_categories = [category for category, _ in crisis_patterns]
        self._crisis = PatternSet([pattern for _, pattern in crisis_patterns])
        topic_patterns = TOPIC_PATTERNS if topics is None else topics
        self._topic_categories = list(topic_patterns)
        self._topics = PatternSet(list(topic_patterns.values()))
        self._frame = PatternSet([study_frame])

    def check(self, text: str) -> SafetyHit | None:
        """Crisis patterns first; topic words only outside a study/document/policy frame."""
        normalised = _normalise(text)
        crisis = self._crisis.first(normalised)
        if crisis is not None:
            return SafetyHit(category=self._crisis_categories[crisis], tier="crisis")
        if self._frame.first(normalised) is not None:
            return None
        topic = self._topics.first(normalised)
        if topic is not None:
            return SafetyHit(category=self._topic_categories[topic], tier="topic")
        return None
