"""Phantom finding specs: parsing, laterality, the 14-condition labels and random sampling."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from pydantic import ValidationError

from state.errors import InputError
from tools.radiology.conditions import CONDITIONS
from tools.radiology.phantom_spec import (
    FINDINGS,
    P_NORMAL,
    PhantomSpec,
    finding_side,
    sample_spec,
)


def test_parse_orders_deduplicates_and_ignores_case_and_spaces() -> None:
    spec = PhantomSpec.parse(" Effusion_Left, cardiomegaly ,effusion_left,")
    assert spec.findings == ("cardiomegaly", "effusion_left")
    assert str(spec) == "cardiomegaly,effusion_left"


@pytest.mark.parametrize("text", ["normal", "none", "", " , "])
def test_normal_words_and_empty_text_give_a_normal_film(text: str) -> None:
    spec = PhantomSpec.parse(text)
    assert spec.findings == ()
    assert spec.conditions() == ("No Finding",)
    assert str(spec) == "normal"


def test_unknown_finding_is_an_input_error_listing_the_valid_names() -> None:
    with pytest.raises(InputError) as error:
        PhantomSpec.parse("cardiomegaly,efusion_left")
    message = str(error.value)
    assert "efusion_left" in message
    assert all(name in message for name in FINDINGS)
    with pytest.raises(InputError, match="normal"):
        PhantomSpec.parse("normal,edema")


def test_constructing_with_an_unknown_name_fails_validation() -> None:
    with pytest.raises(ValidationError):
        PhantomSpec(findings=("pneumonia",))  # type: ignore[arg-type]


def test_sides_are_the_patients() -> None:
    assert finding_side("effusion_left") == "left"
    assert finding_side("nodule_right") == "right"
    assert finding_side("cardiomegaly") is None
    assert finding_side("devices") is None


def test_conditions_follow_the_mapping_and_the_opacity_hierarchy() -> None:
    spec = PhantomSpec.parse("consolidation_left,effusion_left,effusion_right")
    assert spec.conditions() == ("Lung Opacity", "Consolidation", "Pleural Effusion")
    assert PhantomSpec.parse("opacity_right").conditions() == ("Lung Opacity",)
    assert PhantomSpec.parse("fracture_left,nodule_right").conditions() == (
        "Lung Lesion",
        "Fracture",
    )


def test_devices_alone_leave_no_finding_positive_as_in_chexpert() -> None:
    assert PhantomSpec.parse("devices").conditions() == ("No Finding", "Support Devices")
    assert "No Finding" not in PhantomSpec.parse("devices,edema").conditions()


def test_labels_are_a_vector_over_the_14_conditions() -> None:
    labels = PhantomSpec.parse("cardiomegaly,pneumothorax_right").labels()
    assert labels.shape == (len(CONDITIONS),) and labels.dtype == np.float32
    positive = {CONDITIONS[i] for i in np.flatnonzero(labels)}
    assert positive == {"Cardiomegaly", "Pneumothorax"}


def test_every_finding_maps_to_at_least_one_condition() -> None:
    for name in FINDINGS:
        conditions = PhantomSpec(findings=(name,)).conditions()
        assert set(conditions) - {"No Finding"}, name


def test_sampling_is_seeded_and_covers_normal_and_every_finding() -> None:
    first = [sample_spec(np.random.default_rng(seed)) for seed in range(400)]
    again = [sample_spec(np.random.default_rng(seed)) for seed in range(400)]
    assert first == again
    normal_share = sum(not spec.findings for spec in first) / len(first)
    assert abs(normal_share - P_NORMAL) < 0.08
    counts = Counter(name for spec in first for name in spec.findings)
    assert set(counts) == set(FINDINGS)
    assert max(len(spec.findings) for spec in first) <= 5
