"""Real lung shapes for phantoms: v7labs masks read from their zip, split into two lungs.

The masks are frontal (PA) views, so the patient's left lung is on the IMAGE RIGHT. A mask is
cropped to the lungs' bounding box, resized to a square working frame and split into its two
largest connected components; masks that are empty or do not hold one lung per side are skipped.

Usage:
    masks = LungMaskSet(ensure_radiology_data(cache_dir).lung_masks_zip)
    pair = masks.select(seed=7)                    # the same pair for the same seed
    right, left = pair.place(384, (0.12, 0.12, 0.88, 0.78))   # bool masks in image coordinates
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from state.errors import AssetError

WORK_SIZE = 256
_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
_MIN_LUNG_SHARE = 0.15


@dataclass(frozen=True)
class LungPair:
    """One mask's two lungs in a square `WORK_SIZE` frame spanning their joint bounding box.

    `right` is the patient's right lung (image left); `left` is the patient's left (image right).
    """

    name: str
    right: np.ndarray
    left: np.ndarray

    def place(
        self, size: int, box: tuple[float, float, float, float]
    ) -> tuple[np.ndarray, np.ndarray]:
        """Both lungs as bool `size`×`size` masks, stretched into `box` = (x0, y0, x1, y1).

        The box is in fractions of the image side, 0 <= x0 < x1 <= 1 and 0 <= y0 < y1 <= 1.
        """
        x0, y0, x1, y1 = (round(v * size) for v in box)
        placed = []
        for lung in (self.right, self.left):
            canvas = np.zeros((size, size), dtype=bool)
            scaled = Image.fromarray(lung.astype(np.float32)).resize(
                (x1 - x0, y1 - y0), Image.Resampling.BILINEAR
            )
            canvas[y0:y1, x0:x1] = np.asarray(scaled) >= 0.5
            placed.append(canvas)
        return placed[0], placed[1]


def label_components(mask: np.ndarray) -> tuple[np.ndarray, int]:
    """4-connected components of a bool mask: labels 1..n (0 = background) and n.

    Min-label propagation with pointer jumping, so it converges in few full-array passes.
    """
    height, width = mask.shape
    background = height * width
    labels = np.where(mask.ravel(), np.arange(background), background)
    while True:
        grid = labels.reshape(height, width)
        spread = grid.copy()
        np.minimum(spread[1:], grid[:-1], out=spread[1:])
        np.minimum(spread[:-1], grid[1:], out=spread[:-1])
        np.minimum(spread[:, 1:], grid[:, :-1], out=spread[:, 1:])
        np.minimum(spread[:, :-1], grid[:, 1:], out=spread[:, :-1])
        spread = np.where(mask, spread, background).ravel()
        lookup = np.append(spread, background)
        spread = lookup[lookup[spread]]
        if np.array_equal(spread, labels):
            break
        labels = spread
    roots, dense = np.unique(labels, return_inverse=True)
    if roots.size and roots[-1] == background:
        dense = np.where(labels == background, 0, dense + 1)
        return dense.reshape(height, width), int(roots.size - 1)
    return (dense + 1).reshape(height, width), int(roots.size)


def _crop_resize(masks: list[np.ndarray]) -> list[np.ndarray]:
    """Crop every mask to their joint bounding box and resize it to the square working frame."""
    union = np.logical_or.reduce(masks)
    rows = np.flatnonzero(union.any(axis=1))
    cols = np.flatnonzero(union.any(axis=0))
    resized = []
    for mask in masks:
        crop = mask[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
        image = Image.fromarray(crop.astype(np.uint8) * 255).resize(
            (WORK_SIZE, WORK_SIZE), Image.Resampling.BILINEAR
        )
        resized.append(np.asarray(image) >= 128)
    return resized


def split_lungs(name: str, mask: np.ndarray) -> LungPair | None:
    """Split a whole-lungs mask into its two lungs, or None when it is not one lung per side."""
    if not mask.any():
        return None
    (frame,) = _crop_resize([mask])
    labels, count = label_components(frame)
    if count < 2:
        return None
    sizes = np.bincount(labels.ravel(), minlength=count + 1)[1:]
    largest = np.argsort(sizes)[::-1][:2] + 1
    lungs = [labels == index for index in largest]
    areas = [int(lung.sum()) for lung in lungs]
    if min(areas) < _MIN_LUNG_SHARE * sum(areas):
        return None
    centres = [float(np.nonzero(lung)[1].mean()) for lung in lungs]
    if not min(centres) < WORK_SIZE / 2 < max(centres):
        return None
    image_left, image_right = lungs if centres[0] < centres[1] else lungs[::-1]
    right, left = _crop_resize([image_left, image_right])
    return LungPair(name=name, right=right, left=left)


class LungMaskSet:
    """The v7labs lung masks inside their zip, decoded on demand and cached per process."""

    def __init__(self, zip_path: Path) -> None:
        self.zip_path = zip_path
        try:
            with zipfile.ZipFile(zip_path) as archive:
                members = archive.namelist()
        except (OSError, zipfile.BadZipFile) as exc:
            raise AssetError(f"lung masks zip {zip_path} is missing or unreadable: {exc}") from exc
        self.names: tuple[str, ...] = tuple(
            sorted(name for name in members if name.lower().endswith(_IMAGE_SUFFIXES))
        )
        if not self.names:
            raise AssetError(f"lung masks zip {zip_path} holds no mask images")
        self._cache: dict[str, LungPair | None] = {}

    def __len__(self) -> int:
        return len(self.names)

    def _decode(self, name: str) -> LungPair | None:
        if name not in self._cache:
            try:
                with zipfile.ZipFile(self.zip_path) as archive:
                    data = archive.read(name)
                image = Image.open(io.BytesIO(data)).convert("L")
            except (OSError, KeyError, zipfile.BadZipFile, UnidentifiedImageError) as exc:
                raise AssetError(
                    f"lung mask {name} in {self.zip_path} is unreadable: {exc}"
                ) from exc
            self._cache[name] = split_lungs(name, np.asarray(image) > 127)
        return self._cache[name]

    def load(self, name: str) -> LungPair:
        """The named mask's lungs; AssetError when it is not a usable two-lung mask."""
        if name not in self.names:
            raise AssetError(f"no lung mask named {name!r} in {self.zip_path}")
        pair = self._decode(name)
        if pair is None:
            raise AssetError(f"lung mask {name} does not hold one lung on each side")
        return pair

    def select(self, seed: int) -> LungPair:
        """A usable mask chosen by `seed`: the same seed always gives the same pair."""
        order = np.random.default_rng(seed).permutation(len(self.names))
        for index in order:
            pair = self._decode(self.names[int(index)])
            if pair is not None:
                return pair
        raise AssetError(f"no usable two-lung mask in {self.zip_path}")
