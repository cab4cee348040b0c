"""The normal anatomy of a chest phantom: body, lungs, heart, mediastinum, bones and vessels.

Densities are in display units (0 black, 1 white); air lowers them, tissue and bone raise them.
Coordinates are fractions of the image side; the patient's left is the IMAGE RIGHT (sign +1).

Usage:
    anatomy = build_anatomy(pair, size=224, ctr=0.44, rng=np.random.default_rng(0))
    anatomy.lungs["left"]           # bool mask of the patient's left lung (image right)
    broken = render_rib(anatomy, "left", 4, RibFracture(position=0.6, step=0.01))
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from tools.radiology.lung_masks import LungPair
from tools.radiology.phantom_spec import Side
from tools.radiology.raster import (
    Polyline,
    blur,
    draw_polylines,
    smooth_noise,
    smoothstep,
    unit_grid,
)

SIDES: tuple[Side, ...] = ("right", "left")
SIGN: dict[Side, int] = {"right": -1, "left": 1}
RIBS_PER_SIDE = 10
RIB_DENSITY = 0.08


@dataclass(frozen=True)
class RibFracture:
    """A break in a rib: where along it (0 spine … 1 chest wall) and the distal step-off."""

    position: float
    step: float


@dataclass(frozen=True)
class Anatomy:
    """A normal chest, as masks, geometry and density layers at one image size."""

    size: int
    lungs: dict[Side, np.ndarray]
    lung_soft: np.ndarray
    heart: np.ndarray
    silhouette: np.ndarray
    midline: float
    lateral: dict[Side, float]
    top: float
    bottom: float
    thorax_width: float
    hila: dict[Side, tuple[float, float]]
    body: np.ndarray
    bones: np.ndarray
    markings: np.ndarray
    rib_levels: tuple[float, ...]
    ribs: np.ndarray
    regions: dict[str, np.ndarray]

    @property
    def height(self) -> float:
        """Lung height, apex to lowest base, as a fraction of the image side."""
        return self.bottom - self.top

    def side_t(self, side: Side, xx: np.ndarray) -> np.ndarray:
        """Position across a hemithorax: 0 at the midline, 1 at the lateral chest wall."""
        width = abs(self.lateral[side] - self.midline)
        return ((xx - self.midline) * SIGN[side] / width).astype(np.float32)


def _extent(mask: np.ndarray) -> tuple[float, float, float, float, float]:
    """Union-of-lungs geometry: top, bottom, left column, right column, widest row (units)."""
    size = mask.shape[0]
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    first = np.where(mask.any(axis=1), mask.argmax(axis=1), 0)
    last = np.where(mask.any(axis=1), size - 1 - mask[:, ::-1].argmax(axis=1), 0)
    widest = float((last - first + 1)[rows].max())
    return (
        rows[0] / size,
        (rows[-1] + 1) / size,
        cols[0] / size,
        (cols[-1] + 1) / size,
        widest / size,
    )


def _midline(right: np.ndarray, left: np.ndarray) -> float:
    """Halfway between the lungs' medial edges, over the rows where both lungs exist."""
    size = right.shape[0]
    both = right.any(axis=1) & left.any(axis=1)
    right_medial = size - 1 - right[:, ::-1].argmax(axis=1)
    left_medial = left.argmax(axis=1)
    return float(np.median((right_medial[both] + left_medial[both] + 1) / 2) / size)


def _ellipse(
    yy: np.ndarray,
    xx: np.ndarray,
    centre: tuple[float, float],
    radii: tuple[float, float],
    angle: float,
) -> np.ndarray:
    """Normalised radius of a rotated ellipse: < 1 inside."""
    dx, dy = xx - centre[0], yy - centre[1]
    cos, sin = np.cos(angle), np.sin(angle)
    u = (dx * cos + dy * sin) / radii[0]
    v = (-dx * sin + dy * cos) / radii[1]
    return np.sqrt(u * u + v * v).astype(np.float32)


def _heart(
    yy: np.ndarray,
    xx: np.ndarray,
    midline: float,
    top: float,
    height: float,
    width: float,
    ctr: float,
    angle: float,
) -> np.ndarray:
    """Radius field of a heart whose widest horizontal extent is `ctr` × thoracic width.

    Two thirds of the heart lie to the patient's left (image right) of the midline.
    """
    half = ctr * width / 2
    heart_top, heart_bottom = top + 0.5 * height, top + 1.02 * height
    ry = (heart_bottom - heart_top) / 2
    cos, sin = np.cos(angle), np.sin(angle)
    rx = float(np.sqrt(max(half**2 - (ry * sin) ** 2, (0.3 * half) ** 2)) / cos)
    centre = (midline + 0.28 * half, (heart_top + heart_bottom) / 2)
    return _ellipse(yy, xx, centre, (rx, ry), angle)


def _great_vessels(
    yy: np.ndarray,
    xx: np.ndarray,
    left: np.ndarray,
    midline: float,
    top: float,
    height: float,
    width: float,
) -> np.ndarray:
    """Upper mediastinal silhouette: the vascular pedicle and the aortic knob on the left."""
    half = (0.07 + 0.03 * smoothstep(top, top + 0.5 * height, yy)) * width
    pedicle = smoothstep(1.05, 0.95, np.abs(xx - midline - 0.01) / half)
    pedicle *= smoothstep(top + 0.62 * height, top + 0.5 * height, yy)
    knob_y = top + 0.2 * height
    row = left[min(int(knob_y * left.shape[0]), left.shape[0] - 1)]
    knob_x = (row.argmax() + 0.5) / left.shape[0] if row.any() else midline + 0.06
    knob = smoothstep(1.05, 0.95, _ellipse(yy, xx, (knob_x, knob_y), (0.022, 0.022), 0.0))
    return np.maximum(pedicle, knob)


def _body(yy: np.ndarray, xx: np.ndarray, size: int) -> np.ndarray:
    """Soft-tissue density of torso, shoulders and neck: thicker in the middle, 0 in air."""
    half_width = 0.36 + 0.11 * smoothstep(0.0, 0.22, yy)
    torso = smoothstep(1.02, 0.98, np.abs(xx - 0.5) / half_width) * smoothstep(0.02, 0.06, yy)
    neck = smoothstep(0.11, 0.09, np.abs(xx - 0.5)) * smoothstep(0.12, 0.0, yy)
    outline = blur(np.maximum(torso, neck), 0.006 * size)
    thickness = 0.40 + 0.20 * (1 - ((xx - 0.5) / 0.47) ** 2).clip(0, 1) + 0.06 * yy
    return (outline * thickness + 0.03).astype(np.float32)


def _vessel_tree(
    rng: np.random.Generator, hilum: tuple[float, float], sign: int, reach: float, width: float
) -> list[Polyline]:
    """Branching vessels fanning out from a hilum, thinner and shorter at each generation."""
    lines: list[Polyline] = []
    stack = [
        (hilum, float(angle), 0.3 * reach * rng.uniform(0.8, 1.1), width, 0)
        for angle in np.linspace(-1.3, 1.4, 9) + rng.normal(0, 0.1, 9)
    ]
    while stack:
        start, angle, length, thickness, depth = stack.pop()
        points = [start]
        for _ in range(3):
            angle += rng.normal(0, 0.15)
            x, y = points[-1]
            points.append((x + sign * np.cos(angle) * length / 3, y + np.sin(angle) * length / 3))
        lines.append((points, thickness * (1.0 + 0.3 * np.sin(angle))))
        if depth < 4:
            for turn in (-1, 1):
                child = angle + turn * rng.uniform(0.2, 0.55)
                scale = rng.uniform(0.6, 0.8)
                stack.append((points[-1], child, length * scale, thickness * 0.7, depth + 1))
    return lines


def _bones_and_mediastinum(
    yy: np.ndarray,
    xx: np.ndarray,
    size: int,
    midline: float,
    top: float,
    height: float,
    hila: dict[Side, tuple[float, float]],
    rng: np.random.Generator,
) -> np.ndarray:
    """Spine with disc spaces, clavicles and the dark trachea and main bronchi."""
    spine_band = smoothstep(0.042, 0.03, np.abs(xx - midline))
    discs = 1 - 0.35 * smoothstep(0.75, 0.95, np.cos((yy - top) * 2 * np.pi / 0.045) ** 2)
    spine = 0.07 * spine_band * discs * smoothstep(0.0, 0.05, yy)
    clavicles: list[Polyline] = []
    for side in SIDES:
        s = SIGN[side]
        lift = rng.uniform(0.05, 0.08)
        points = [
            (
                midline + s * (0.035 + k * 0.07),
                top + 0.02 - lift * (k / 4) ** 1.4 + 0.01 * np.sin(k),
            )
            for k in range(5)
        ]
        clavicles.append((points, 0.022 * size))
    carina = (midline, top + 0.3 * height)
    airway: list[Polyline] = [(((midline, 0.0), carina), 0.034 * size)]
    for side in SIDES:
        hilum_x, hilum_y = hila[side]
        bronchus_end = (
            carina[0] + 0.6 * (hilum_x - carina[0]),
            carina[1] + 0.6 * (hilum_y - carina[1]),
        )
        airway.append(((carina, bronchus_end), 0.018 * size))
    bones = spine + 0.12 * blur(draw_polylines(size, clavicles), 0.002 * size)
    return (bones - 0.10 * blur(draw_polylines(size, airway), 0.004 * size)).astype(np.float32)


def build_anatomy(pair: LungPair, size: int, ctr: float, rng: np.random.Generator) -> Anatomy:
    """Place a lung pair in a body and build every normal layer; `ctr` sets the heart's width."""
    yy, xx = unit_grid(size)
    box = (
        0.13 + rng.uniform(-0.015, 0.015),
        0.12 + rng.uniform(-0.015, 0.015),
        0.87 + rng.uniform(-0.015, 0.015),
        0.79 + rng.uniform(-0.02, 0.02),
    )
    right, left = pair.place(size, box)
    lungs = {"right": right, "left": left}
    union = right | left
    top, bottom, col_min, col_max, thorax_width = _extent(union)
    height = bottom - top
    midline = _midline(right, left)
    lateral: dict[Side, float] = {"right": col_min, "left": col_max}
    hila: dict[Side, tuple[float, float]] = {
        side: (midline + 0.3 * (lateral[side] - midline), top + 0.42 * height) for side in SIDES
    }
    heart_radius = _heart(yy, xx, midline, top, height, thorax_width, ctr, rng.uniform(0.25, 0.45))
    heart = heart_radius <= 1.0
    silhouette = np.maximum(
        smoothstep(1.04, 0.96, heart_radius),
        _great_vessels(yy, xx, left, midline, top, height, thorax_width),
    )
    lung_soft = blur(union.astype(np.float32), 0.003 * size)
    vessels: list[Polyline] = []
    for side in SIDES:
        vessels += _vessel_tree(
            rng, hila[side], SIGN[side], abs(lateral[side] - midline), 0.011 * size
        )
    hilar = sum(
        np.exp(-((xx - hx) ** 2 + (yy - hy) ** 2) / (2 * 0.022**2)) for hx, hy in hila.values()
    )
    texture = np.clip(0.5 + 0.3 * smooth_noise(rng, size, cells=max(8, size // 10)), 0, 1)
    vessel_layer = blur(draw_polylines(size, vessels), 0.003 * size)
    markings = np.clip(0.8 * vessel_layer + 0.5 * hilar + 0.3 * texture, 0, 1)
    bones = _bones_and_mediastinum(yy, xx, size, midline, top, height, hila, rng)
    rib_levels = tuple(float(v) for v in top - 0.01 + np.arange(RIBS_PER_SIDE) * 0.093 * height)
    regions = _regions(yy, xx, lungs, heart, midline, top, bottom)
    anatomy = Anatomy(
        size=size,
        lungs=lungs,
        lung_soft=lung_soft,
        heart=heart,
        silhouette=silhouette.astype(np.float32),
        midline=midline,
        lateral=lateral,
        top=top,
        bottom=bottom,
        thorax_width=thorax_width,
        hila=hila,
        body=_body(yy, xx, size),
        bones=bones,
        markings=markings.astype(np.float32),
        rib_levels=rib_levels,
        ribs=np.zeros_like(lung_soft),
        regions=regions,
    )
    ribs = sum(
        (render_rib(anatomy, side, index) for side in SIDES for index in range(RIBS_PER_SIDE)),
        np.zeros_like(lung_soft),
    )
    return replace(anatomy, ribs=ribs)


def _regions(
    yy: np.ndarray,
    xx: np.ndarray,
    lungs: dict[Side, np.ndarray],
    heart: np.ndarray,
    midline: float,
    top: float,
    bottom: float,
) -> dict[str, np.ndarray]:
    """Masks of the six anatomical regions (spec §4.3) the anatomical queries should find."""
    union = lungs["right"] | lungs["left"]
    size = union.shape[0]
    rows = np.arange(size)[:, None]
    base = np.where(union.any(axis=0), size - 1 - union[::-1].argmax(axis=0), -size)[None, :] / size
    diaphragm = (yy >= base - 0.01) & (yy <= base + 0.04) & (base > 0)
    heart_top = np.flatnonzero(heart.any(axis=1))[0] / size if heart.any() else bottom
    right_edge = np.where(
        lungs["right"].any(axis=1), size - 1 - lungs["right"][:, ::-1].argmax(axis=1), size
    )
    left_edge = np.where(lungs["left"].any(axis=1), lungs["left"].argmax(axis=1), -1)
    cols = np.arange(size)[None, :]
    between = (cols > right_edge[:, None]) & (cols < left_edge[:, None])
    mediastinum = between & (rows >= top * size) & (yy < heart_top) & ~heart
    spine = (np.abs(xx - midline) < 0.035) & (yy >= top) & (yy <= bottom)
    return {
        "Cardiac": heart,
        "Left Lung": lungs["left"],
        "Right Lung": lungs["right"],
        "Mediastinum": mediastinum,
        "Diaphragm": diaphragm,
        "Spine": spine,
    }


def _rib_band(offset: np.ndarray, thickness: np.ndarray) -> np.ndarray:
    """Cross-section of a rib: bright cortex at both edges, soft outer boundary."""
    d = np.abs(offset) / (thickness / 2)
    return smoothstep(1.15, 0.85, d) * (0.6 + 0.4 * np.clip(d, 0, 1) ** 2)


def render_rib(
    anatomy: Anatomy, side: Side, index: int, fracture: RibFracture | None = None
) -> np.ndarray:
    """One posterior rib and its faint anterior arc, fainter over soft tissue than over air.

    A `fracture` cuts a gap in the posterior rib and steps the distal fragment off.
    """
    size = anatomy.size
    level, height = anatomy.rib_levels[index], anatomy.height
    rows = slice(max(0, int((level - 0.1) * size)), min(size, int((level + 0.4 * height) * size)))
    yy, xx = (grid[rows] for grid in unit_grid(size))
    t = anatomy.side_t(side, xx)
    centre = level + height * (-0.12 * t + 0.3 * np.clip(t, 0, None) ** 2.5)
    thickness = (0.02 + 0.006 * index / RIBS_PER_SIDE) * (0.8 + 0.5 * t.clip(0, 1))
    span = smoothstep(0.02, 0.1, t) * smoothstep(1.1, 1.0, t)
    if fracture is not None:
        beyond = np.clip(t - fracture.position, 0, None)
        distal = smoothstep(fracture.position, fracture.position + 0.02, t)
        centre = centre + fracture.step * distal * np.exp(-beyond / 0.08)
        span = span * smoothstep(0.015, 0.03, np.abs(t - fracture.position))
    posterior = _rib_band(yy - centre, thickness) * span
    anterior_centre = level + 0.04 + height * 0.22 * np.clip(1 - t, 0, None) ** 1.3
    front = smoothstep(0.3, 0.45, t) * smoothstep(1.05, 0.95, t)
    anterior = 0.35 * _rib_band(yy - anterior_centre, np.full_like(t, 0.024)) * front
    layer = np.zeros((size, size), dtype=np.float32)
    visibility = 0.3 + 0.7 * anatomy.lung_soft[rows] * (1 - anatomy.silhouette[rows])
    layer[rows] = RIB_DENSITY * (posterior + anterior) * visibility
    return layer
