"""Patient-level train/validation/test split (spec §5.2): seeded, no patient in two splits.

Usage:
    splits = patient_split(reports, key=lambda r: r.uid, seed=42)   # 70/15/15 by default
    splits.train, splits.validation, splits.test
    splits.ids(lambda r: r.uid)     # {"train": [...], "validation": [...], "test": [...]}
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from state.errors import InputError

T = TypeVar("T")

DEFAULT_FRACTIONS = (0.70, 0.15, 0.15)
SPLIT_NAMES = ("train", "validation", "test")


@dataclass(frozen=True)
class Splits(Generic[T]):
    """The three splits, each in the input order of its items."""

    train: list[T]
    validation: list[T]
    test: list[T]

    def ids(self, key: Callable[[T], str]) -> dict[str, list[str]]:
        """The split as plain ids, e.g. to write a splits file."""
        return {name: [key(item) for item in getattr(self, name)] for name in SPLIT_NAMES}


def _check_fractions(fractions: Sequence[float]) -> None:
    if len(fractions) != 3 or any(f < 0 for f in fractions) or abs(sum(fractions) - 1) > 1e-6:
        raise InputError(
            f"split fractions must be three non-negative numbers summing to 1, got {fractions}"
        )


def patient_split(
    items: Sequence[T],
    key: Callable[[T], Hashable],
    seed: int = 42,
    fractions: Sequence[float] = DEFAULT_FRACTIONS,
) -> Splits[T]:
    """Split `items` so that all items sharing `key` (the patient) land in the same split.

    Patients are shuffled with `seed` (after sorting their keys, so the input order does not
    matter) and filled into train, validation and test until each holds its fraction of items.
    For IU X-ray one report is one patient study, so `key` is the report uid; for Kaggle data
    with several images per report the same key groups a report's images.
    """
    _check_fractions(fractions)
    groups: dict[Hashable, list[int]] = defaultdict(list)
    for index, item in enumerate(items):
        groups[key(item)].append(index)
    patients = sorted(groups, key=repr)
    random.Random(seed).shuffle(patients)
    bounds = (fractions[0] * len(items), (fractions[0] + fractions[1]) * len(items))
    assigned: list[list[int]] = [[], [], []]
    placed = 0
    for patient in patients:
        midpoint = placed + len(groups[patient]) / 2
        split = 0 if midpoint <= bounds[0] else 1 if midpoint <= bounds[1] else 2
        assigned[split].extend(groups[patient])
        placed += len(groups[patient])
    train, validation, test = ([items[i] for i in sorted(chosen)] for chosen in assigned)
    return Splits(train=train, validation=validation, test=test)
