"""Build the tutor from settings: the bank (+ report cases), learner store, grader and judge.

Usage:
    with open_tutor(settings, shared_embeddings.embed, access) as tutor:
        registry.register(TutorAgent(tutor))
        build_policy(..., learners=tutor.store)     # erasure of a learner's records
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from agents.model_access import ModelAccess
from agents.tutor_judge import ModelJudge
from app.settings import Settings
from state.errors import AssetError
from tools.radiology.assets import data_dir
from tools.radiology.reports import load_iu_reports
from tools.tutor.bank import Bank, Question, load_bank
from tools.tutor.case_questions import build_case_questions
from tools.tutor.engine import Tutor
from tools.tutor.grading import Embed, Grader
from tools.tutor.learner_store import LearnerStore, open_learner_store

log = logging.getLogger(__name__)

TUTOR_DIR = "tutor"
REPORTS_ARCHIVE = "NLMCXR_reports.tgz"  # unpacked by tools.radiology.assets.ensure_radiology_data


def tutor_bank(settings: Settings) -> Bank:
    """The packaged bank plus `MEDGRAPH_TUTOR_CASE_QUESTIONS` questions from the IU reports.

    The reports are used only when already in the cache (starting a chat never downloads);
    without them the tutor runs on the packaged bank and says so in the log.
    """
    if settings.tutor_case_questions == 0:
        return load_bank()
    reports = data_dir(settings.cache_dir) / REPORTS_ARCHIVE
    if not reports.is_file():
        log.warning("tutor_case_questions_skipped reason=reports_not_cached path=%s", reports)
        return load_bank()
    try:
        cases = build_case_questions(
            load_iu_reports(reports), count=settings.tutor_case_questions, seed=settings.tutor_seed
        )
    except AssetError as exc:
        log.warning("tutor_case_questions_skipped reason=unreadable error=%s", exc)
        return load_bank()
    return load_bank(extra_questions=[Question.model_validate(c) for c in cases])


@contextmanager
def opened_store(settings: Settings) -> Iterator[LearnerStore]:
    """The learner store that `MEDGRAPH_TUTOR_URL` (else the audit database) names."""
    store = open_learner_store(settings.resolved_tutor_url)
    try:
        yield store
    finally:
        store.close()


@contextmanager
def open_tutor(settings: Settings, embed: Embed, access: ModelAccess | None) -> Iterator[Tutor]:
    """The tutor over `tutor_bank`; the judge grades free text when `MEDGRAPH_TUTOR_JUDGE`."""
    bank = tutor_bank(settings)
    judge = ModelJudge(access) if settings.tutor_judge and access is not None else None
    with opened_store(settings) as store:
        yield Tutor(
            bank,
            store,
            Grader(embed, judge=judge),
            plot_dir=settings.data_dir / TUTOR_DIR,
            seed=settings.tutor_seed,
        )
