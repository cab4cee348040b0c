"""Attention overlays and the grid figure, on a real film and hand-made attention maps."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from state.errors import InputError
from tools.radiology.conditions import CONDITIONS, REGIONS
from tools.radiology.heatmaps import (
    MIN_OVERLAY_SIDE,
    attention_grid,
    overlay,
    upsample,
    write_overlays,
)

SIDE = 128
GRID = 8


def _film() -> np.ndarray:
    yy, xx = np.mgrid[0:SIDE, 0:SIDE] / SIDE
    return (0.3 + 0.4 * np.exp(-((xx - 0.5) ** 2 + (yy - 0.5) ** 2) * 8)).astype(np.float32)


def _maps() -> np.ndarray:
    """One-hot attention: query q looks only at patch (q // GRID, q % GRID)."""
    maps = np.full((20, GRID, GRID), 1e-4, dtype=np.float32)
    for q in range(20):
        maps[q, q // GRID, q % GRID] = 1.0
    return maps / maps.sum(axis=(1, 2), keepdims=True)


def test_one_png_per_query_at_the_overlay_size(tmp_path: Path) -> None:
    overlays = write_overlays(_film(), _maps(), tmp_path)
    assert [o.query for o in overlays] == [*CONDITIONS, *REGIONS]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(Path(o.path).name for o in overlays)
    assert Path(overlays[2].path).name == "02-cardiomegaly.png"
    assert Path(overlays[15].path).name == "15-left-lung.png"
    for o in overlays:
        with Image.open(o.path) as image:
            assert image.size == (MIN_OVERLAY_SIDE, MIN_OVERLAY_SIDE) and image.mode == "RGB"


def test_overlay_is_coloured_where_the_query_looks_and_gray_elsewhere(tmp_path: Path) -> None:
    maps = _maps()
    overlays = write_overlays(_film(), maps, tmp_path)
    for q in (0, 9, 19):
        picture = np.asarray(Image.open(overlays[q].path), dtype=np.int16)
        row, col = q // GRID, q % GRID
        cell = MIN_OVERLAY_SIDE // GRID
        hot = picture[row * cell + cell // 2, col * cell + cell // 2]
        far = picture[(7 - row) * cell + cell // 2, (7 - col) * cell + cell // 2]
        assert np.ptp(hot) > 40  # coloured
        assert np.ptp(far) <= 2  # plain gray
        assert overlays[q].peak == ((row + 0.5) / GRID, (col + 0.5) / GRID)


def test_upsampled_map_spans_zero_to_one_and_constant_maps_stay_zero() -> None:
    heat = upsample(_maps()[3], 64)
    assert heat.shape == (64, 64) and heat.max() == pytest.approx(1.0) and heat.min() == 0.0
    assert upsample(np.full((GRID, GRID), 1 / 64, dtype=np.float32), 64).max() == 0.0
    assert overlay(_film(), _maps()[0], 300).shape == (300, 300, 3)


def test_grid_figure_has_the_image_and_twenty_labelled_overlays(tmp_path: Path) -> None:
    out = attention_grid(_film(), _maps(), tmp_path / "grid" / "g.png", title="test model")
    with Image.open(out) as figure:
        width, height = figure.size
    assert out.is_file() and width > 1200 and height > 500
    with pytest.raises(InputError, match="PNG"):
        attention_grid(_film(), _maps(), tmp_path / "g.jpg", title="x")


def test_wrong_shapes_are_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="20 attention maps"):
        write_overlays(_film(), _maps()[:14], tmp_path)
    with pytest.raises(InputError, match="square"):
        write_overlays(_film()[:100], _maps(), tmp_path)
