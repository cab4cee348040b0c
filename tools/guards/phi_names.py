"""The person-name lexicon for PHI detection: Faker's locale name lists minus common words."""

from __future__ import annotations

import importlib
from functools import lru_cache

NAME_LOCALES: tuple[str, ...] = (
    "en_US",
    "en_GB",
    "en_IE",
    "en_IN",
    "en_NG",
    "en_PK",
    "en_KE",
    "en_NZ",
    "es_ES",
    "es_MX",
    "fr_FR",
    "de_DE",
    "it_IT",
    "pt_BR",
    "nl_NL",
    "pl_PL",
    "tr_TR",
    "vi_VN",
)

# Capitalised words that are names in the lists but usually something else in clinical text.
_COMMON_TEXT = """
    a an and as at be by can do for from go he her his i if in is it may me my no not of on or
    our she so the to up us we will you all any are art bill bob bud buck chase chance charity
    christian clay cliff colt crystal dale dawn dean dell drew earl faith fern gene gay grace
    guy hope iris ivy jack jade jean joy june kay king lane lee les long love major mark marsh
    max may mercy miles misty page park pat pearl penny price ray reed rich rose ruby rusty
    sage scott sky son spring star sterling stone summer tad terry young ward wood white black
    brown green gray grey hall hill best bell cook baker carter mason parker hunter porter
    fisher walker fowler banks bishop booth bond case church cross dean early field ford fox
    free french frost gross hart heart holmes house hunt jones judge knight lamb law light
    little lord love low man march marshall may mills moon more morse nash new north oliver
    peters pope post power pratt rice rivers rock rush salt sharp short small snow south
    sparks spear street strong swift tate temple tower trout turner wall walls waters west
    wise wolf woods worth york addison alzheimer barrett bell crohn cushing down graves hodgkin
    huntington kaposi parkinson wilson raynaud guillain barre reiter sjogren horner bowen
    paget pancoast kerley westermark hampton fleischner felson golden luftsichel may-thurner
    doctor nurse patient ward bed clinic report review scan film study unit chest heart lung
    left right upper lower middle normal acute chronic mild severe pa ap ct mri xray
    """
COMMON_WORDS: frozenset[str] = frozenset(_COMMON_TEXT.split())


@lru_cache(maxsize=1)
def name_lexicon() -> tuple[frozenset[str], frozenset[str]]:
    """Lower-cased (first names, last names) from Faker's locale lists, common words removed."""
    first: set[str] = set()
    last: set[str] = set()
    for locale in NAME_LOCALES:
        provider = importlib.import_module(f"faker.providers.person.{locale}").Provider
        first.update(n.lower() for n in getattr(provider, "first_names", ()))
        first.update(n.lower() for n in getattr(provider, "first_names_male", ()))
        first.update(n.lower() for n in getattr(provider, "first_names_female", ()))
        last.update(n.lower() for n in getattr(provider, "last_names", ()))
    return frozenset(first - COMMON_WORDS), frozenset(last - COMMON_WORDS)
