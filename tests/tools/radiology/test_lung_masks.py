"""The v7labs lung masks: read from the zip, split into patient-right and patient-left lungs."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from state.errors import AssetError
from tests.tools.radiology.phantom_support import lung_masks
from tools.radiology.lung_masks import WORK_SIZE, LungMaskSet, label_components, split_lungs


def test_label_components_separates_blobs_and_not_diagonal_neighbours() -> None:
    mask = np.zeros((12, 12), dtype=bool)
    mask[1:4, 1:4] = True
    mask[1:4, 6:10] = True
    mask[4, 4] = True  # touches the first blob only at a corner
    mask[8:11, 2:11] = True
    labels, count = label_components(mask)
    assert count == 4
    assert len({labels[2, 2], labels[2, 7], labels[9, 5], labels[4, 4]}) == 4
    assert (labels == 0).sum() == (~mask).sum()


def test_label_components_follows_a_winding_shape() -> None:
    mask = np.zeros((9, 9), dtype=bool)
    mask[0, :] = mask[:, 8] = mask[8, :] = mask[2:, 0] = mask[2, :7] = True
    _, count = label_components(mask)
    assert count == 1


def test_a_real_mask_splits_into_patient_right_on_the_image_left() -> None:
    pair = lung_masks().select(0)
    assert pair.right.shape == pair.left.shape == (WORK_SIZE, WORK_SIZE)
    assert not (pair.right & pair.left).any()
    right_x = np.nonzero(pair.right)[1].mean()
    left_x = np.nonzero(pair.left)[1].mean()
    assert right_x < WORK_SIZE / 2 < left_x


def test_selection_is_fixed_by_the_seed_and_varies_across_seeds() -> None:
    masks = lung_masks()
    assert masks.select(11).name == masks.select(11).name
    assert len({masks.select(seed).name for seed in range(8)}) >= 4


def test_place_puts_both_lungs_inside_the_box() -> None:
    right, left = lung_masks().select(3).place(100, (0.2, 0.1, 0.8, 0.7))
    ys, xs = np.nonzero(right | left)
    assert xs.min() >= 20 and xs.max() < 80 and ys.min() >= 10 and ys.max() < 70
    assert xs.min() <= 21 and xs.max() >= 78


def test_empty_and_single_lung_masks_are_rejected() -> None:
    blank = np.zeros((64, 64), dtype=bool)
    assert split_lungs("blank", blank) is None
    one = blank.copy()
    one[10:50, 5:25] = True
    assert split_lungs("one", one) is None
    tiny_second = one.copy()
    tiny_second[30:33, 50:53] = True
    assert split_lungs("speck", tiny_second) is None


def test_missing_zip_and_unknown_or_unusable_masks_raise_asset_error(tmp_path: Path) -> None:
    with pytest.raises(AssetError, match="missing or unreadable"):
        LungMaskSet(tmp_path / "absent.zip")
    masks = lung_masks()
    with pytest.raises(AssetError, match="no lung mask named"):
        masks.load("not-a-mask.png")
    archive = tmp_path / "blank.zip"
    with zipfile.ZipFile(archive, "w") as out:
        out.writestr("masks/blank.png", _png(np.zeros((40, 40), dtype=np.uint8)))
    blank_set = LungMaskSet(archive)
    with pytest.raises(AssetError, match="one lung on each side"):
        blank_set.load("masks/blank.png")
    with pytest.raises(AssetError, match="no usable"):
        blank_set.select(0)


def _png(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()
