"""Refit per-concept BKT parameters by EM from every learner's stored answer events.

Usage:
    fitted = refit_params(model, store)   # {concept_id: StoredParams}, saved and put in force
"""

from __future__ import annotations

from tools.tutor.bkt import fit_or_default
from tools.tutor.learner import LearnerModel, sequences_by_concept
from tools.tutor.learner_store import LearnerStore, StoredParams

MIN_SEQUENCES = 30
MIN_OBSERVATIONS = 150


def refit_params(
    model: LearnerModel,
    store: LearnerStore,
    *,
    min_sequences: int = MIN_SEQUENCES,
    min_observations: int = MIN_OBSERVATIONS,
) -> dict[str, StoredParams]:
    """Fit concepts with enough counted answers, store the fits and use them in `model`.

    Concepts with too little data keep their defaults (or an earlier fit) and are not listed.
    """
    fitted: dict[str, StoredParams] = {}
    for concept_id, sequences in sequences_by_concept(store.events()).items():
        if not model.bank.has_concept(concept_id):
            continue
        params, fit = fit_or_default(
            sequences,
            model.params(concept_id),
            min_sequences=min_sequences,
            min_observations=min_observations,
        )
        if fit is not None:
            fitted[concept_id] = StoredParams(
                prior=params.prior,
                learn=params.learn,
                guess=params.guess,
                slip=params.slip,
                sequences=fit.sequences,
                observations=fit.observations,
            )
    store.save_params(fitted)
    model.set_params({k: v.bkt() for k, v in fitted.items()})
    return fitted
