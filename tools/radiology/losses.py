"""The training losses (spec §7): token cross-entropy and masked multi-label BCE, and their targets.

Usage:
    gen = generation_loss(logits, labels, label_smoothing=0.1)     # labels −100 are skipped
    targets = mention_targets([{"Cardiomegaly": "positive", "Edema": "negative"}])
    aux = auxiliary_loss(aux_logits, targets)                       # blank conditions skipped
    total = 1.0 * gen + 0.3 * aux
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch.nn import functional as F

from state.errors import InputError
from tools.radiology.conditions import CONDITIONS, Mention

IGNORE_INDEX = -100
"""Label id that the generation loss skips (prompt positions and padding)."""

UNLABELLED = -1.0
"""Auxiliary target for a condition the report does not mention: left out of the loss."""


def generation_loss(
    logits: torch.Tensor, labels: torch.Tensor, label_smoothing: float = 0.0
) -> torch.Tensor:
    """Mean token cross-entropy of logits [B, T, V] against labels [B, T]; 0 if none count."""
    if logits.shape[:2] != labels.shape:
        raise InputError(f"logits {tuple(logits.shape)} do not match labels {tuple(labels.shape)}")
    if not bool((labels != IGNORE_INDEX).any()):
        return logits.sum() * 0.0
    return F.cross_entropy(
        logits.flatten(0, 1).float(),
        labels.flatten(),
        ignore_index=IGNORE_INDEX,
        label_smoothing=label_smoothing,
    )


def auxiliary_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy over labelled conditions only (targets 0/1; `UNLABELLED` skipped)."""
    if logits.shape != targets.shape:
        raise InputError(
            f"aux logits {tuple(logits.shape)} do not match targets {tuple(targets.shape)}"
        )
    labelled = targets >= 0
    per_condition = F.binary_cross_entropy_with_logits(
        logits.float(), targets.clamp(min=0.0).to(torch.float32), reduction="none"
    )
    return (per_condition * labelled).sum() / labelled.sum().clamp(min=1)


def mention_targets(
    labels: Sequence[Mapping[str, Mention]],
    *,
    uncertain_as: float | None = 1.0,
    conditions: Sequence[str] = CONDITIONS,
) -> torch.Tensor:
    """Labeller mentions per report → auxiliary targets [B, 14].

    Positive is 1 and negative 0; blank (or absent) conditions are `UNLABELLED`. Uncertain
    mentions count as `uncertain_as` (CheXpert's "U-Ones" by default; None leaves them out).
    """
    unknown = {name for row in labels for name in row} - set(conditions)
    if unknown:
        raise InputError(f"unknown conditions in labels: {sorted(unknown)}")
    values: dict[Mention, float] = {
        "positive": 1.0,
        "negative": 0.0,
        "uncertain": UNLABELLED if uncertain_as is None else uncertain_as,
        "blank": UNLABELLED,
    }
    return torch.tensor(
        [[values[row.get(name, "blank")] for name in conditions] for row in labels],
        dtype=torch.float32,
    ).reshape(len(labels), len(conditions))
