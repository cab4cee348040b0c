"""Build the tutor from settings: the bank, the learner store, the grader (and judge if set).

Usage:
    with open_tutor(settings, shared_embeddings.embed, access) as tutor:
        registry.register(TutorAgent(tutor))
        build_policy(..., learners=tutor.store)     # erasure of a learner's records
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from agents.model_access import ModelAccess
from agents.tutor_judge import ModelJudge
from app.settings import Settings
from tools.tutor.bank import load_bank
from tools.tutor.engine import Tutor
from tools.tutor.grading import Embed, Grader
from tools.tutor.learner_store import LearnerStore, open_learner_store

TUTOR_DIR = "tutor"


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
    """The tutor over the packaged bank; the judge grades free text when `MEDGRAPH_TUTOR_JUDGE`."""
    bank = load_bank()
    judge = ModelJudge(access) if settings.tutor_judge and access is not None else None
    with opened_store(settings) as store:
        yield Tutor(
            bank,
            store,
            Grader(embed, judge=judge),
            plot_dir=settings.data_dir / TUTOR_DIR,
            seed=settings.tutor_seed,
        )
