"""Patient-level 70/15/15 split: seeded, proportional, no patient in two splits."""

from __future__ import annotations

import pytest

from state.errors import InputError
from tools.radiology.splits import patient_split


def test_one_item_per_patient_splits_70_15_15_without_overlap() -> None:
    items = [f"report-{i}" for i in range(3955)]
    splits = patient_split(items, key=lambda item: item, seed=7)
    sizes = [len(splits.train), len(splits.validation), len(splits.test)]
    assert sum(sizes) == 3955
    assert [round(n / 3955, 2) for n in sizes] == [0.70, 0.15, 0.15]
    ids = splits.ids(lambda item: item)
    assert not set(ids["train"]) & set(ids["validation"])
    assert not set(ids["train"]) & set(ids["test"])
    assert not set(ids["validation"]) & set(ids["test"])


def test_all_images_of_a_patient_land_in_the_same_split() -> None:
    images = [(patient, view) for patient in range(500) for view in range(1 + patient % 3)]
    splits = patient_split(images, key=lambda image: image[0], seed=1)
    owner: dict[int, str] = {}
    for name, part in (("train", splits.train), ("val", splits.validation), ("test", splits.test)):
        for patient, _ in part:
            assert owner.setdefault(patient, name) == name
    assert abs(len(splits.train) / len(images) - 0.70) < 0.02


def test_same_seed_same_split_regardless_of_input_order() -> None:
    items = list(range(200))
    first = patient_split(items, key=str, seed=3)
    again = patient_split(list(reversed(items)), key=str, seed=3)
    other = patient_split(items, key=str, seed=4)
    assert set(first.test) == set(again.test)
    assert set(first.test) != set(other.test)


def test_bad_fractions_are_rejected() -> None:
    with pytest.raises(InputError, match="summing to 1"):
        patient_split([1, 2, 3], key=str, fractions=(0.8, 0.3, 0.1))
