"""Draw the 20 query attention maps over the radiograph: one PNG overlay each, and a grid figure.

Each map is the last cross-attention layer's weights of one query over the patch grid (averaged
over heads), upsampled bilinearly to the image and scaled to its own maximum, so every overlay
shows where that query looks, whatever its absolute sharpness.

Usage:
    overlays = write_overlays(image, maps, out_dir)        # 20 AttentionOverlay, PNGs on disk
    attention_grid(image, maps, Path("grid.png"), title="chexquery-medvlm-tiny")
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
from matplotlib import colormaps
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image

from state.errors import InputError
from tools.radiology.conditions import CONDITIONS
from tools.radiology.report_schema import QUERY_NAMES, AttentionOverlay

MIN_OVERLAY_SIDE = 256
ALPHA = 0.5
COLORMAP = "jet"
GRID_COLUMNS = 7
PNG_COMPRESSION = 1  # fast: 20 overlays per report, and zlib level 6 took most of the time
_LUT = colormaps[COLORMAP](np.linspace(0.0, 1.0, 256))[:, :3].astype(np.float32)


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def _check(image: np.ndarray, maps: np.ndarray) -> None:
    if image.ndim != 2 or image.shape[0] != image.shape[1]:
        raise InputError(f"expected a square grayscale image, got shape {image.shape}")
    if maps.ndim != 3 or maps.shape[0] != len(QUERY_NAMES):
        raise InputError(
            f"expected {len(QUERY_NAMES)} attention maps [queries, rows, cols], got {maps.shape}"
        )


def upsample(attention: np.ndarray, side: int) -> np.ndarray:
    """One patch-grid map bilinearly resized to side×side and scaled to [0, 1] by its maximum."""
    grid = Image.fromarray(attention.astype(np.float32))
    resized = np.asarray(grid.resize((side, side), Image.Resampling.BILINEAR), dtype=np.float32)
    resized = np.clip(resized - resized.min(), 0.0, None)
    peak = float(resized.max())
    return resized / peak if peak > 0 else resized


def background(image: np.ndarray, side: int) -> np.ndarray:
    """The grayscale image resized to side×side, in [0, 1]."""
    resized = Image.fromarray(image.astype(np.float32)).resize(
        (side, side), Image.Resampling.BILINEAR
    )
    return np.clip(np.asarray(resized, dtype=np.float32), 0.0, 1.0)


def overlay(image: np.ndarray, attention: np.ndarray, side: int) -> np.ndarray:
    """The grayscale image at side×side with one attention map blended over it: uint8 RGB."""
    return _blend(background(image, side), attention)


def _blend(gray: np.ndarray, attention: np.ndarray) -> np.ndarray:
    heat = upsample(attention, gray.shape[0])
    colours = _LUT[np.round(heat * (len(_LUT) - 1)).astype(np.intp)]
    weight = ALPHA * heat[..., None]
    blended = (1 - weight) * gray[..., None] + weight * colours
    return np.round(blended * 255).astype(np.uint8)


def _peak(attention: np.ndarray) -> tuple[float, float]:
    rows, cols = attention.shape
    row, col = np.unravel_index(int(np.argmax(attention)), attention.shape)
    return ((row + 0.5) / rows, (col + 0.5) / cols)


def write_overlays(image: np.ndarray, maps: np.ndarray, out_dir: Path) -> list[AttentionOverlay]:
    """Write one PNG per query (`NN-name.png`) over `image` [S, S]; maps are [20, rows, cols]."""
    _check(image, maps)
    gray = background(image, max(image.shape[0], MIN_OVERLAY_SIDE))
    out_dir.mkdir(parents=True, exist_ok=True)
    overlays: list[AttentionOverlay] = []
    for index, (name, attention) in enumerate(zip(QUERY_NAMES, maps, strict=True)):
        path = out_dir / f"{index:02d}-{_slug(name)}.png"
        Image.fromarray(_blend(gray, attention), mode="RGB").save(
            path, compress_level=PNG_COMPRESSION
        )
        overlays.append(
            AttentionOverlay(
                query=name,
                kind="condition" if index < len(CONDITIONS) else "region",
                path=str(path),
                peak=_peak(attention),
            )
        )
    return overlays


def attention_grid(image: np.ndarray, maps: np.ndarray, out: Path, *, title: str) -> Path:
    """A labelled grid figure: the image, then the 14 condition and 6 region overlays."""
    _check(image, maps)
    if out.suffix.lower() != ".png":
        raise InputError(f"the attention grid is written as PNG; got {out}")
    gray = background(image, max(image.shape[0], MIN_OVERLAY_SIDE))
    panels = [("Image", np.clip(image, 0, 1))]
    panels += [(name, _blend(gray, m)) for name, m in zip(QUERY_NAMES, maps, strict=True)]
    rows = -(-len(panels) // GRID_COLUMNS)
    figure = Figure(figsize=(2.2 * GRID_COLUMNS, 2.45 * rows), layout="tight")
    FigureCanvasAgg(figure)  # Agg, without pyplot's global state: safe in any thread
    axes = figure.subplots(rows, GRID_COLUMNS)
    for axis in axes.flat:
        axis.axis("off")
    for index, (axis, (label, picture)) in enumerate(zip(axes.flat, panels, strict=False)):
        axis.imshow(picture, cmap="gray" if picture.ndim == 2 else None, vmin=0, vmax=1)
        kind = "" if index == 0 else ("condition · " if index <= len(CONDITIONS) else "region · ")
        axis.set_title(f"{kind}{label}", fontsize=8)
    figure.suptitle(title, fontsize=10)
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out, dpi=110)
    return out
