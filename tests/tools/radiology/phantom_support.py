"""Small real parts for the phantom tests: the real v7labs lung masks, and measures on films."""

from __future__ import annotations

import functools

import numpy as np

from app.settings import Settings
from tools.radiology.assets import ensure_radiology_data
from tools.radiology.lung_masks import LungMaskSet


@functools.cache
def lung_masks() -> LungMaskSet:
    """The 517 real lung masks from the cached torchxrayvision data (fetched once if absent)."""
    return LungMaskSet(ensure_radiology_data(Settings().cache_dir).lung_masks_zip)


def widest_row(mask: np.ndarray) -> int:
    """The widest horizontal extent of a mask over all rows, in pixels."""
    first = mask.argmax(axis=1)
    last = mask.shape[1] - 1 - mask[:, ::-1].argmax(axis=1)
    return int(((last - first + 1) * mask.any(axis=1)).max())


def measured_ctr(image: np.ndarray, lungs: np.ndarray, heart: np.ndarray, midline: int) -> float:
    """Cardiothoracic ratio read off the film: widest bright run through the midline / thorax.

    Only rows from the heart's top to its middle are read (below, the heart meets the bright
    diaphragm); the pixels decide the width, the heart mask only picks those rows.
    """
    rows = np.flatnonzero(heart.any(axis=1))
    threshold = (np.median(image[lungs]) + np.median(image[heart])) / 2
    widths = []
    for row in range(rows[0], (rows[0] + rows[-1]) // 2 + 3):
        bright = image[row] > threshold
        if not bright[midline]:
            widths.append(0)
            continue
        dark = np.flatnonzero(~bright)
        left = dark[dark < midline].max(initial=-1) + 1
        right = dark[dark > midline].min(initial=len(bright))
        widths.append(right - left)
    smoothed = [np.median(widths[max(0, i - 2) : i + 3]) for i in range(len(widths))]
    return float(max(smoothed)) / widest_row(lungs)
