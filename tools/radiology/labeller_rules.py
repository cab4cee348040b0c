"""Phrase rules of the radiology report labeller: mentions per condition and the cue lexicons.

Every pattern runs on lowercased text. A condition is found either by a direct mention
("cardiomegaly", "effusion") or, for the heart and mediastinum, by an anatomical subject whose
state word says enlarged or normal ("the heart is enlarged", "normal heart size").
Mention phrases follow the CheXpert labeller's categories; the code is our own.

Where these rules differ from CheXpert, on purpose:
- a "stable" or "unchanged" heart or mediastinum is no mention (CheXpert: uncertain);
- Support Devices also covers surgical clips, wires, sutures and de-identified device shapes
  ("xxxx-a-xxxx", "tip projecting over");
- "No Finding" is ruled out by more non-CheXpert abnormalities (low lung volumes, surgical
  changes, tortuous aorta, ...), listed under `OTHER_FINDING`;
- the CHF/heart-failure → uncertain Cardiomegaly exception is not applied.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

OTHER_FINDING = "Other Finding"
"""Pseudo-condition: abnormalities outside the 14 that still rule out "No Finding"."""


def _any(*phrases: str) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{p})" for p in phrases))


@dataclass(frozen=True)
class StateRule:
    """A finding read from an anatomical subject and the state words near it."""

    condition: str
    subject: re.Pattern[str]
    abnormal: re.Pattern[str]
    normal: re.Pattern[str]


_LUNG_DENSITY = (
    r"(?<!calcified )(?<!calcific )(?<!bony )(?<!osseous )(?<!sclerotic )(?<!metallic )"
    r"(?<!tubular )(?<!curvilinear )(?<!soft tissue )\bdensit(?:y|ies)\b"
    r"(?![^.;]{0,40}\b(?:ribs?|sternum|clavicles?|glenoid|humer\w*|spine|vertebra\w*|breasts?|"
    r"soft tissues?|axilla\w*|nipples?)\b)"
)

MENTIONS: dict[str, re.Pattern[str]] = {
    "Enlarged Cardiomediastinum": _any(
        r"\bmediastinal (?:widening|enlargement|prominence)",
        r"\bparatracheal (?:\w+ )?(?:prominence|fullness|widening|enlargement)",
        r"\b(?:prominen\w*|fullness|widening|enlargement) of (?:the )?(?:\w+ ){0,2}"
        r"(?:paratracheal|(?:cardio)?mediastin\w*)",
        r"\b(?:widen\w*|enlarged|prominent) (?:\w+ )?mediastinum",
        r"\b(?:widen\w*|enlarged) (?:cardio)?mediastinal (?:silhouette|contour|shadow)",
    ),
    "Cardiomegaly": _any(
        r"\bcardiomegaly",
        r"\bcardiac (?:enlargement|prominence)",
        r"\benlarge(?:d|ment of the) (?:\w+ )?(?:heart|cardiac)",
        r"\bcardiac silhouette enlargement",
    ),
    "Lung Opacity": _any(
        r"\bopaci\w*",
        r"\binfiltrat\w*",
        r"\bair[\s-]?space (?:disease|process|opaci\w*|filling)",
        r"\b(?:alveolar|parenchymal) (?:disease|process|filling)",
        _LUNG_DENSITY,
        r"\binterstitial (?:opaci\w*|pattern|process|disease|lung disease|prominence|infiltrat\w*|"
        r"(?:lung )?markings?)",
        r"\breticul\w*",
        r"\bhaz(?:e|y|iness)\b",
        r"\bground[\s-]?glass",
        r"\bperibronchial (?:thickening|cuffing)",
        r"\bairspace disease",
    ),
    "Lung Lesion": _any(
        r"\b(?:fibro|micro)?nodul(?:e|es|ar|arity)\b",
        r"\bmass(?:es)?\b(?! effect)",
        r"\btumou?rs?\b",
        r"\bneoplas\w*",
        r"\bcarcinoma",
        r"\bmalignan\w*",
        r"\bmetasta\w*",
        r"\bcavitary (?:lesion|mass|nodule)",
        r"\b(?:lung|pulmonary|parenchymal|cavitary|lobe|apical) lesions?",
    ),
    "Edema": _any(
        r"(?<!soft tissue )\bedema\b",
        r"\b(?:vascular|pulmonary|venous) (?:congestion|engorgement|plethora)",
        r"\bcongestive (?:heart )?failure",
        r"\bheart failure",
        r"\bchf\b",
        r"\bfluid overload",
        r"\bkerley",
        r"\bcephalization",
        r"\b(?:vascular\w*|vasculature|vessels) (?:\w+ ){0,3}(?:prominen\w*|indistinct\w*|"
        r"engorge\w*|increased|congest\w*)",
        r"\b(?:prominen\w*|indistinct\w*|engorge\w*|increased|congest\w*) (?:of )?(?:the )?"
        r"(?:\w+ ){0,2}(?:vascular\w*|vasculature|vessels)",
        r"\bengorge\w*",
        r"\bcongestion\b",
        r"\bvenous hypertension",
    ),
    "Consolidation": _any(r"\bconsolidat\w*"),
    "Pneumonia": _any(
        r"(?<!tuberculosis )(?<!tuberculous )\b(?:broncho)?pneumonias?\b",
        r"(?<!granulomatous )(?<!old )(?<!prior )(?<!previous )(?<!remote )(?<!tuberculous )"
        r"(?<!tuberculosis )\binfect\w*",
    ),
    "Atelectasis": _any(
        r"\batelecta\w*",
        r"\b(?:lobar|lobe|lung|segmental) collapse",
        r"\bcollapsed? (?:of )?(?:\w+ ){0,6}(?:lobes?|lungs?)\b",
    ),
    "Pneumothorax": _any(
        r"\bpneumothora(?:x|ces)",
        r"\b(?:hydro|hemo)pneumothora(?:x|ces)",
        r"\bpleural (?:air|gas)\b",
    ),
    "Pleural Effusion": _any(
        r"(?<!pericardial )(?<!joint )\beffusions?\b",
        r"\bpleural fluid",
        r"\bhydrothorax",
        r"\bhemothorax",
        r"\b(?:hydro|hemo)pneumothora(?:x|ces)",
        r"\bfluid (?:in|within) the (?:\w+ ){0,2}(?:pleural|fissure)",
    ),
    "Pleural Other": _any(
        r"\bpleural (?:\w+ )?(?:thickening|plaques?|scar\w*|calcification|fibrosis|capping)",
        r"\bpleural[\s-](?:parenchymal|peripheral) (?:scar\w*|thickening|opaci\w*)",
        r"\bpleural abnormalit(?:y|ies)",
        r"\bthickening (?:of|in|along) the (?:\w+ ){0,2}(?:pleura|fissure)",
        r"\bfissur\w* (?:is )?thicken\w*",
        r"\b(?:bi)?apical (?:\w+ )?(?:thickening|capping|caps?)\b",
        r"\beffusion (?:versus|vs|or|and/or) (?:pleural )?thickening",
        r"\bfibrothorax",
    ),
    "Fracture": _any(
        r"\bfractur\w*(?! (?:of )?(?:the )?(?:\w+ )?(?:screw|wire|lead|catheter|hardware))",
        r"\bfx\b",
    ),
    "Support Devices": _any(
        r"\bpace(?:maker|r)s?\b",
        r"\b(?:a?icd|defibrillator)s?\b",
        r"\bcatheters?\b",
        r"\b(?:picc|port|central|venous|midline|swan[\s-]ganz) (?:\w+ )?(?:line|catheter)s?\b",
        r"\b(?:port[\s-]?a[\s-]?cath|mediport|porta?cath)\b",
        r"\b(?:endotracheal|tracheostomy|nasogastric|orogastric|feeding|chest|et|ng|og|dobhoff|"
        r"gastrostomy|enteric) tubes?\b",
        r"\bdrains?\b",
        r"\bstents?\b",
        r"\b(?:prosthetic|mechanical|replacement|artificial) (?:\w+ )?valves?\b",
        r"\bvalve (?:replacement|prosthesis)",
        r"\b(?:sternotomy|cerclage|surgical|suture) wires?\b",
        r"\bclips?\b",
        r"\bsutures?\b",
        r"\bstaples?\b",
        r"\bhardware\b",
        r"\b(?:fixation|orthopedic) (?:\w+ )?(?:plates?|screws?|rods?|hardware)",
        r"\bscrews?\b",
        r"\b(?:pacing|pacer|cardiac) (?:leads?|wires?|generator)",
        r"\bleads\b",
        r"\b(?:monitor\w*|ekg|ecg|pacing|pacer) leads?\b",
        r"\btips? (?:is |are )?(?:projecting|projects|overlying|overlies|at|in|terminat\w*|"
        r"located|positioned|near|above|below|within|over|extends)\b",
        r"\bgenerators?\b",
        r"\bstimulators?\b",
        r"\bshunts?\b",
        r"\btubing\b",
        r"\b(?:bone|suture) anchors?\b",
        r"\boccluder",
        r"\btracheostomy",
        r"\bxxxx-a-xxxx",
        r"\belectrodes?\b",
        r"\bdevices?\b",
        r"\barthroplast\w*",
        r"\bprosthes[ie]s\b",
        r"\bivc filter",
        r"\bloop recorder",
        r"\bcoils?\b",
    ),
    OTHER_FINDING: _any(
        r"\bemphysema\w*",
        r"\bcopd\b",
        r"\bchronic obstructive",
        r"\bhyper[\s-]?(?:inflat|expan|lucen|aerat)\w*",
        r"\bover[\s-]?(?:inflat|expan)\w*",
        r"\bhypo[\s-]?(?:inflat|expan|aerat)\w*",
        r"\blow (?:lung )?volumes?",
        r"\b(?:poor|shallow|low|suboptimal) (?:inspirat\w*|inflation|effort|lung expansion)",
        r"\bvolume loss",
        r"\bgranulom\w*",
        r"\bcalcifi\w*",
        r"\bcalcinosis",
        r"\bscar\w*",
        r"\bcicatri\w*",
        r"\bfibros\w*",
        r"\bfibrotic",
        r"\bblunt\w*",
        r"\beventration",
        r"\belevat\w* (?:of )?(?:the )?(?:\w+ )?(?:hemi)?diaphragm",
        r"\b(?:hemi)?diaphragm\w* (?:is |are )?(?:\w+ )?elevat\w*",
        r"\bhernia\w*",
        r"\bscolio\w*",
        r"\bkypho\w*",
        r"\blordo\w*",
        r"\bdegenerat\w*",
        r"\bosteophyt\w*",
        r"\bspondyl\w*",
        r"\bdeformit\w*",
        r"\bosteopeni\w*",
        r"\bosteoporo\w*",
        r"\bdemineraliz\w*",
        r"\btortu\w*",
        r"\bectatic",
        r"\bectasia",
        r"\bunfold\w*",
        r"\batheroscl\w*",
        r"\baneurysm\w*",
        r"\bdilat\w* (?:\w+ )?(?:aorta|pulmonary arter\w*)",
        r"\b(?:aorta|aortic knob|aortic arch) (?:is |are )?(?:\w+ )?(?:dilated|enlarged|widened)",
        r"\bplaques?\b",
        r"\bthicken\w*",
        r"\bbronchiect\w*",
        r"\bbronchit\w*",
        r"\bbronchiolit\w*",
        r"\bairways? disease",
        r"\bbronchial wall",
        r"\bcysts?\b",
        r"\bcystic\b",
        r"\bbullae?\b",
        r"\bbullous",
        r"\bblebs?\b",
        r"\bcavit\w*",
        r"\blymphadenopathy",
        r"\badenopathy",
        r"\b(?:hilar|mediastinal|lymph) (?:\w+ )?(?:enlargement|prominence|fullness)",
        r"\b(?:enlarged|prominent|full) (?:\w+ )?(?:hil(?:a|um|ar)|lymph nodes?)",
        r"\bhil(?:a|um|ar (?:regions?|structures?|contours?)) (?:is |are |appear |appears )?"
        r"(?:\w+ )?(?:enlarged|prominent|full)",
        r"\bpneumomediastinum",
        r"\bpneumoperitoneum",
        r"\bfree (?:intraperitoneal |subdiaphragmatic )?air\b",
        r"\bsubcutaneous (?:air|emphysema)",
        r"\b(?:interstitial|bronchovascular|lung|pulmonary) markings? (?:\w+ ){0,3}"
        r"(?:increased|prominent|accentuated|coarse\w*|crowd\w*)",
        r"\b(?:increased|prominent|accentuated|coarse\w*|crowd\w*) (?:\w+ ){0,2}markings?",
        r"\bsternotomy",
        r"\bthoracotomy",
        r"\bmastectomy",
        r"\blobectomy",
        r"\bpneumonectomy",
        r"\bpost[\s-]?(?:operative|surgical)",
        r"\bsurgical changes?",
        r"\bcabg\b",
        r"\bpectus",
        r"\bnipple shadows?",
        r"\bazygos (?:lobe|fissure)",
        r"\bfluid\b",
        r"\bforeign bod\w*",
        r"\bbullets?\b",
        r"\bshrapnel",
        r"\bmetallic (?:\w+ )?(?:fragments?|densit\w*|foreign|objects?|bodies)",
        r"\bpulmonary (?:arter\w* )?hypertension",
        r"\b(?:enlarged|prominent|dilated) (?:\w+ )?pulmonary arter\w*",
        r"\bpulmonary arter\w* (?:is |are )?(?:\w+ )?(?:enlarged|prominent|dilated)",
        r"\bsclero\w*",
        r"\blytic",
        r"\bdislocat\w*",
        r"\bshift\w*",
        r"\bdextro\w*",
        r"\bsarcoid\w*",
        r"\btuberculosis|\btb\b",
        r"\bpneumonitis",
        r"\baspiration",
        r"\bhemorrhage",
        r"\bcontusion",
        r"\bhematoma",
        r"\babnormalit(?:y|ies)\b",
    ),
}

STATE_RULES: tuple[StateRule, ...] = (
    StateRule(
        condition="Cardiomegaly",
        subject=re.compile(
            r"\b(?:heart|cardiac)(?! failure)(?: (?:size|silhouette|shadow|contour|diameter|"
            r"borders?))?\b|\bcardiothoracic ratio"
        ),
        abnormal=re.compile(
            r"\benlarg\w*|\blarge\b|\bincreas\w*|\bprominen\w*|\bcardiomegaly|\bbig\b|"
            r"\bborderline\b"
        ),
        normal=re.compile(
            r"\bnormal\b|\bunremarkable\b|\bwithin (?:the )?(?:\w+ )?limits\b|\bnot (?:\w+ ){0,2}"
            r"(?:enlarg\w*|large|increas\w*)|\bno (?:\w+ ){0,2}enlargement\b"
        ),
    ),
    StateRule(
        condition="Enlarged Cardiomediastinum",
        subject=re.compile(
            r"\bmediastinum\b|\b(?:cardio)?mediastinal (?:silhouette|contours?|shadow|width|"
            r"structures?|borders?|size|configuration)\b"
        ),
        abnormal=re.compile(r"\bwiden\w*|\benlarg\w*|\bprominen\w*|\bwide\b|\bincreas\w*"),
        normal=re.compile(
            r"\bnormal\b|\bunremarkable\b|\bwithin (?:the )?(?:\w+ )?limits\b|\bnot (?:\w+ ){0,2}"
            r"(?:widen\w*|enlarg\w*|prominen\w*)|\bno (?:\w+ ){0,2}(?:widening|enlargement)\b"
        ),
    ),
)

HEDGED_STATE = re.compile(r"borderline")
"""A state word that is itself a hedge: "borderline heart size" is uncertain."""

PRE_NEGATION_UNCERTAINTY = re.compile(
    r"\b(?:cannot|can ?not|can't|could not|not|difficult to|unable to|hard to) (?:be )?"
    r"(?:\w+ )?(?:exclude\w*|rule\w* out|ruled out)\b|\bno new\b|\bnot entirely\b"
)
POST_NEGATION_UNCERTAINTY = re.compile(
    r"^(?:[^.;]{0,60}?)\b(?:(?:cannot|can ?not|could not|can't) (?:be )?(?:entirely |completely )?"
    r"(?:exclude\w*|ruled out)|(?:is|are) not (?:entirely |completely )?excluded|"
    r"not excluded)"
)
NEGATION = re.compile(
    r"\b(?:no|not|without|never|nor|neither|negative for|free of|clear of|absence of|absent|"
    r"resolution of|resolved|removal of|removed|rather than|no evidence|no longer|history of|"
    r"clearing of|cleared|"
    r"ruled out|rule out|exclude\w*)\b"
)
PRE_NORMAL = re.compile(r"\b(?:normal|unremarkable)\s+(?:[^\s,;]+\s+)?$")
"""A normal-state word right before a mention negates it ("normal interstitial markings")."""
PSEUDO_NEGATION = re.compile(
    r"\bno (?:\w+ )?(?:significant |appreciable |definite |interval |substantial )?"
    r"(?:change|increase|decrease|progression|improvement|worsening|difference)\b|"
    r"\bnot (?:only|significantly changed|changed)\b"
)
POST_NEGATION = re.compile(
    r"^[^.;]{0,50}?\b(?:(?:is|are|was|were|has|have) (?:\w+ )?(?:not|no longer) "
    r"(?:\w+ )?(?:seen|identified|visualized|evident|present|appreciated|demonstrated|noted|"
    r"visible|detected)|(?:has|have) (?:\w+ )?(?:resolved|cleared|been removed)|"
    r"(?:is|are) (?:\w+ )?(?:absent|resolved|removed)|resolved|removed|not (?:seen|identified|"
    r"present|visualized|evident|appreciated)|(?:is|are|appears?|remains?|seems?) (?:\w+ )?"
    r"(?:normal|unremarkable|within (?:the )?(?:\w+ )?(?:limits|normal)))\b"
)
UNCERTAINTY = re.compile(
    r"\b(?:may|might|could|possibl[ey]|probabl[ey]|questionabl[ey]|question(?:ed)?|"
    r"correlat\w* (?:\w+ ){0,3}(?:for|with)|"
    r"suspect\w*|suspicious|suspicion|concern\w*|worrisome|suggest\w*|differential|versus|vs|"
    r"borderline|equivocal|indeterminate|uncertain|presum\w*|cannot exclude|not excluded|"
    r"(?:can|could) be|maybe|perhaps|atypical|consider\w*|evaluat\w* (?:for|of)|possib\w*)\b|"
    r"\b(?:or|and/or)\s+(?:\S+\s+){0,3}$"
)
POST_UNCERTAINTY = re.compile(
    r"^\s*,?\s*(?:versus|vs|or|and/or)\b|"
    r"^[^.;]{0,40}?\b(?:versus|vs|is (?:suspected|questioned|possible|considered|not "
    r"excluded)|(?:are|is) (?:\w+ )?(?:difficult|hard) to (?:exclude|assess|evaluate)|"
    r"(?:is|are) (?:not well|poorly|incompletely) (?:seen|evaluated|visualized)|"
    r"(?:may|might|could) (?:also )?(?:not )?(?:be )?(?:present|seen|noted|developing|there|"
    r"demonstrated|visible|detected|evident)|"
    r"less likely|cannot be excluded|(?:is )?in the differential|is (?:another|a) "
    r"consideration)\b"
)
SCOPE_BREAK = re.compile(
    r"\b(?:but|however|although|though|except|aside from|apart from|whereas|which|while|yet|"
    r"otherwise|there (?:is|are)|with (?!no\b))\b|[;:]|,(?= (?:there|the|this|these|it)\b)"
)
CLAUSE_BREAK = re.compile(
    r"\b(?:but|however|although|though|whereas|yet|except)\b|[;:|]|(?<=[a-z]) - (?=[a-z])|"
    r"\band (?=(?:there|the|this|these|it)\b)"
)
