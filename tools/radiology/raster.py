"""Raster operations the phantoms are drawn with: Gaussian blur, smooth noise, line drawing.

All work on float32 numpy images with values in pixels; nothing here knows about anatomy.

Usage:
    yy, xx = unit_grid(224)                       # pixel centres in [0, 1]
    haze = blur(mask.astype(np.float32), sigma=4)
    texture = smooth_noise(rng, 224, cells=12)    # zero mean, unit std, no features < size/12
    vessels = draw_polylines(224, [(points, width)])
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw

_SUPERSAMPLE = 4


def unit_grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    """Row and column coordinates of pixel centres, as fractions of the image side."""
    centres = (np.arange(size, dtype=np.float32) + 0.5) / size
    yy, xx = np.meshgrid(centres, centres, indexing="ij")
    return yy, xx


def blur(image: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur with standard deviation `sigma` pixels (reflected borders, via FFT)."""
    if sigma <= 0:
        return image.astype(np.float32)
    pad = int(np.ceil(3 * sigma))
    padded = np.pad(image.astype(np.float32), pad, mode="reflect")
    height, width = padded.shape
    fy = np.fft.fftfreq(height)[:, None]
    fx = np.fft.rfftfreq(width)[None, :]
    transfer = np.exp(-2 * (np.pi * sigma) ** 2 * (fy**2 + fx**2))
    smoothed = np.fft.irfft2(np.fft.rfft2(padded) * transfer, s=padded.shape)
    return smoothed[pad:-pad, pad:-pad].astype(np.float32)


def smooth_noise(rng: np.random.Generator, size: int, cells: int) -> np.ndarray:
    """Zero-mean, unit-std noise whose features are about `size / cells` pixels across."""
    coarse = rng.standard_normal((cells, cells)).astype(np.float32)
    fine = np.asarray(Image.fromarray(coarse).resize((size, size), Image.Resampling.BICUBIC))
    return ((fine - fine.mean()) / (fine.std() + 1e-6)).astype(np.float32)


def smoothstep(edge0: float, edge1: float, values: np.ndarray) -> np.ndarray:
    """0 below `edge0`, 1 above `edge1`, a smooth cubic in between."""
    t = np.clip((values - edge0) / (edge1 - edge0), 0.0, 1.0)
    return (t * t * (3 - 2 * t)).astype(np.float32)


Polyline = tuple[Sequence[tuple[float, float]], float]


def draw_polylines(size: int, lines: Sequence[Polyline]) -> np.ndarray:
    """Anti-aliased polylines in [0, 1]; each is ((x, y) points in unit coordinates, width px)."""
    big = size * _SUPERSAMPLE
    canvas = Image.new("L", (big, big), 0)
    pen = ImageDraw.Draw(canvas)
    for points, width in lines:
        scaled = [(x * big, y * big) for x, y in points]
        line_width = max(1, round(width * _SUPERSAMPLE))
        pen.line(scaled, fill=255, width=line_width, joint="curve")
        radius = line_width / 2
        for x, y in (scaled[0], scaled[-1]):
            pen.ellipse((x - radius, y - radius, x + radius, y + radius), fill=255)
    small = canvas.resize((size, size), Image.Resampling.BOX)
    return (np.asarray(small, dtype=np.float32) / 255.0).astype(np.float32)
