"""Draw each phantom finding as changes to the normal anatomy, with the region it occupies.

A finding displaces lung air (`fill`: fluid, consolidation, haze), changes density (`extra`:
nodules, devices, the pleural line, a broken rib's gap and step) or adds lucency without vessel
markings (`lucent`: pneumothorax). Sides are the patient's: `left` is drawn on the IMAGE RIGHT.

Usage:
    drawn = draw_finding("effusion_left", anatomy, np.random.default_rng(3))
    drawn.region       # bool mask of where the finding changed the film
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from tools.radiology.phantom_anatomy import SIGN, Anatomy, RibFracture, render_rib
from tools.radiology.phantom_spec import FindingName, Side, finding_side
from tools.radiology.raster import (
    Polyline,
    blur,
    draw_polylines,
    smooth_noise,
    smoothstep,
    unit_grid,
)

DEVICE_DENSITY = 0.45
_REGION_FLOOR = 0.06


@dataclass(frozen=True)
class Drawn:
    """What one finding does to the film, and the bool region where it does it."""

    region: np.ndarray
    fill: np.ndarray | None = None
    extra: np.ndarray | None = None
    lucent: np.ndarray | None = None


def _lung_rows(lung: np.ndarray) -> tuple[float, float]:
    rows = np.flatnonzero(lung.any(axis=1))
    size = lung.shape[0]
    return rows[0] / size, (rows[-1] + 1) / size


def _soft(mask: np.ndarray, size: int) -> np.ndarray:
    return blur(mask.astype(np.float32), 0.003 * size)


def _half(anatomy: Anatomy, side: Side) -> np.ndarray:
    """The image half on the patient's `side` of the midline, with a soft edge."""
    _, xx = unit_grid(anatomy.size)
    return smoothstep(-0.01, 0.01, (xx - anatomy.midline) * SIGN[side])


def _filled(anatomy: Anatomy, fill: np.ndarray) -> np.ndarray:
    """Where displacing lung air by `fill` visibly changes the film."""
    return fill * anatomy.lung_soft > _REGION_FLOOR


def _effusion(anatomy: Anatomy, side: Side, rng: np.random.Generator) -> Drawn:
    """Fluid in the lowest part of a hemithorax, its meniscus rising to the lateral wall."""
    yy, xx = unit_grid(anatomy.size)
    lung = anatomy.lungs[side]
    top, bottom = _lung_rows(lung)
    t = anatomy.side_t(side, xx).clip(0, 1)
    level = bottom - rng.uniform(0.2, 0.35) * (bottom - top)
    surface = level - rng.uniform(0.05, 0.09) * t**2
    fluid = smoothstep(surface - 0.035, surface + 0.01, yy)
    fill = fluid * _half(anatomy, side)
    return Drawn(region=_filled(anatomy, fill), fill=fill)


# Lobes as bands of a lung's height: the right lung has three lobes, the left two.
_LOBES: dict[Side, tuple[tuple[float, float], ...]] = {
    "right": ((0.0, 0.38), (0.38, 0.62), (0.62, 1.0)),
    "left": ((0.0, 0.5), (0.5, 1.0)),
}


def _patches(anatomy: Anatomy, side: Side, rng: np.random.Generator, spread: float) -> np.ndarray:
    """Patchy density in [0, 1] confined to one lobe band of one lung."""
    yy, xx = unit_grid(anatomy.size)
    lung = anatomy.lungs[side]
    top, bottom = _lung_rows(lung)
    lobes = _LOBES[side]
    start, end = lobes[int(rng.integers(len(lobes)))]
    lobe = lung & (yy >= top + start * (bottom - top)) & (yy < top + end * (bottom - top))
    ys, xs = np.nonzero(lobe)
    picks = rng.integers(len(ys), size=int(rng.integers(5, 9)))
    patch = np.zeros_like(yy)
    for pick in picks:
        cy, cx = (ys[pick] + 0.5) / anatomy.size, (xs[pick] + 0.5) / anatomy.size
        sigma = spread * rng.uniform(0.7, 1.3)
        patch += np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * sigma**2))
    texture = 0.75 + 0.25 * smooth_noise(rng, anatomy.size, cells=24)
    patch = smoothstep(0.2, 0.6, patch / patch.max() * texture)
    return patch * blur(lobe.astype(np.float32), 0.008 * anatomy.size)


def _consolidation(anatomy: Anatomy, side: Side, rng: np.random.Generator) -> Drawn:
    """Dense patchy airspace filling in one lobe, with dark air bronchograms inside."""
    patch = _patches(anatomy, side, rng, spread=0.045)
    ys, xs = np.nonzero(patch > 0.6)
    bronchi: list[Polyline] = []
    for pick in rng.integers(len(ys), size=3) if len(ys) else []:
        x, y = (xs[pick] + 0.5) / anatomy.size, (ys[pick] + 0.5) / anatomy.size
        angle = rng.uniform(0, 2 * np.pi)
        for turn in (-0.35, 0.35):
            end = (x + 0.04 * np.cos(angle + turn), y + 0.04 * np.sin(angle + turn))
            bronchi.append((((x, y), end), 0.006 * anatomy.size))
    bronchogram = draw_polylines(anatomy.size, bronchi) if bronchi else np.zeros_like(patch)
    fill = 0.9 * patch * (1 - 0.6 * blur(bronchogram, 0.002 * anatomy.size))
    return Drawn(region=_filled(anatomy, fill), fill=fill)


def _opacity(anatomy: Anatomy, side: Side, rng: np.random.Generator) -> Drawn:
    """Fainter, ill-defined patchy opacity in one lobe."""
    patch = _patches(anatomy, side, rng, spread=0.06)
    fill = 0.5 * patch
    return Drawn(region=_filled(anatomy, fill), fill=fill)


def _atelectasis(anatomy: Anatomy, side: Side, rng: np.random.Generator) -> Drawn:
    """One or two plate-like linear opacities in the lower zone."""
    lung = anatomy.lungs[side]
    top, bottom = _lung_rows(lung)
    s, medial, lateral = SIGN[side], anatomy.midline, anatomy.lateral[side]
    plates: list[Polyline] = []
    for _ in range(int(rng.integers(1, 3))):
        y = top + rng.uniform(0.62, 0.82) * (bottom - top)
        start, end = rng.uniform(0.3, 0.45), rng.uniform(0.65, 0.85)
        tilt = rng.uniform(-0.02, 0.02)
        points = [
            (medial + s * t * abs(lateral - medial), y + tilt * (t - start) / 0.3)
            for t in (start, end)
        ]
        plates.append((points, rng.uniform(0.008, 0.012) * anatomy.size))
    fill = 0.85 * blur(draw_polylines(anatomy.size, plates), 0.004 * anatomy.size)
    fill *= _half(anatomy, side)
    return Drawn(region=_filled(anatomy, fill), fill=fill)


def _pneumothorax(anatomy: Anatomy, side: Side, rng: np.random.Generator) -> Drawn:
    """The lung collapses toward its medial base: a lucent apical-lateral rim, no vessels."""
    size = anatomy.size
    lung = anatomy.lungs[side]
    _, bottom = _lung_rows(lung)
    pivot_x = anatomy.midline + 0.2 * (anatomy.lateral[side] - anatomy.midline)
    scale = rng.uniform(0.72, 0.84)
    yy, xx = unit_grid(size)
    src_x = np.clip(((pivot_x + (xx - pivot_x) / scale) * size).astype(int), 0, size - 1)
    src_y = np.clip(((bottom + (yy - bottom) / scale) * size).astype(int), 0, size - 1)
    collapsed = lung[src_y, src_x] & lung
    rim = lung & ~collapsed
    lucent = _soft(rim, size) * _soft(lung, size)
    edge = smoothstep(0.35, 0.0, np.abs(blur(collapsed.astype(np.float32), 0.004 * size) - 0.5))
    pleural_line = 0.08 * edge * smoothstep(0.05, 0.3, blur(rim.astype(np.float32), 0.006 * size))
    region = (lucent > _REGION_FLOOR) | (pleural_line > 0.01)
    return Drawn(region=region, lucent=lucent, extra=pleural_line)


def _edema(anatomy: Anatomy, _side: Side | None, rng: np.random.Generator) -> Drawn:
    """Bilateral perihilar (bat-wing) haze, indistinct vessels and basal Kerley B lines."""
    size = anatomy.size
    yy, xx = unit_grid(size)
    haze = np.zeros_like(yy)
    for hx, hy in anatomy.hila.values():
        haze += np.exp(-((xx - hx) ** 2) / (2 * 0.1**2) - (yy - hy) ** 2 / (2 * 0.13**2))
    haze *= (0.8 + 0.2 * smooth_noise(rng, size, cells=16)) * anatomy.lung_soft
    lines: list[Polyline] = []
    for side, lateral in anatomy.lateral.items():
        for y in anatomy.bottom - rng.uniform(0.04, 0.16, size=5) * anatomy.height:
            inner = anatomy.midline + SIGN[side] * 0.86 * abs(lateral - anatomy.midline)
            lines.append((((inner, y), (lateral, y)), 0.0035 * size))
    kerley = draw_polylines(size, lines) * anatomy.lung_soft
    fill = 0.5 * haze
    extra = 0.05 * anatomy.markings * haze + 0.05 * kerley
    return Drawn(region=_filled(anatomy, fill) | (kerley > 0.1), fill=fill, extra=extra)


def _nodule(anatomy: Anatomy, side: Side, rng: np.random.Generator) -> Drawn:
    """One or two round, well-defined nodules inside one lung."""
    size = anatomy.size
    yy, xx = unit_grid(size)
    lung = anatomy.lungs[side]
    inside = blur(lung.astype(np.float32), 0.03 * size) > 0.95
    ys, xs = np.nonzero(inside if inside.any() else lung)
    profile = np.zeros_like(yy)
    for pick in rng.integers(len(ys), size=int(rng.integers(1, 3))):
        cy, cx = (ys[pick] + 0.5) / size, (xs[pick] + 0.5) / size
        radius = rng.uniform(0.014, 0.024)
        distance = np.sqrt((xx - cx) ** 2 + (yy - cy) ** 2) / radius
        profile = np.maximum(profile, np.sqrt(np.clip(1 - distance**2, 0, 1)))
    profile = blur(profile, 0.5)
    return Drawn(
        region=profile > _REGION_FLOOR, fill=np.clip(1.5 * profile, 0, 1), extra=0.06 * profile
    )


def _fracture(anatomy: Anatomy, side: Side, rng: np.random.Generator) -> Drawn:
    """A gap with a step-off in one posterior rib of the mid chest."""
    step = rng.uniform(0.005, 0.009) * (1 if rng.random() < 0.5 else -1)
    rib, position = int(rng.integers(3, 8)), rng.uniform(0.5, 0.8)
    fracture = RibFracture(position=position, step=step)
    change = render_rib(anatomy, side, rib, fracture) - render_rib(anatomy, side, rib)
    return Drawn(region=blur(np.abs(change), 1.0) > 0.001, extra=change)


def _circle(centre: tuple[float, float], radius: float) -> list[tuple[float, float]]:
    angles = np.linspace(0, 2 * np.pi, 25)
    return [(centre[0] + radius * np.cos(a), centre[1] + radius * np.sin(a)) for a in angles]


def _devices(anatomy: Anatomy, _side: Side | None, rng: np.random.Generator) -> Drawn:
    """Support devices: endotracheal tube, central line, nasogastric tube, ECG leads."""
    size = anatomy.size
    m, top, bottom, height = anatomy.midline, anatomy.top, anatomy.bottom, anatomy.height
    carina = top + 0.3 * height
    s = 1 if rng.random() < 0.5 else -1
    tubes: dict[str, list[Polyline]] = {
        "endotracheal": [(((m, 0.0), (m, carina - rng.uniform(0.03, 0.06))), 0.012 * size)],
        "central_line": [
            (
                (
                    (m + s * 0.3, top + 0.02),
                    (m + s * 0.15, top + 0.05),
                    (m - 0.02, top + 0.12),
                    (m - 0.025, top + rng.uniform(0.25, 0.33) * height),
                ),
                0.005 * size,
            )
        ],
        "nasogastric": [
            (
                (
                    (m + 0.01, 0.0),
                    (m + 0.015, top + 0.5 * height),
                    (m + 0.03, bottom + 0.02),
                    (m + 0.12, bottom + 0.06),
                ),
                0.007 * size,
            )
        ],
        "ecg_leads": [],
    }
    for _ in range(3):
        centre = (rng.uniform(0.2, 0.8), rng.uniform(top, bottom))
        tubes["ecg_leads"].append((_circle(centre, 0.012), 0.004 * size))
        tubes["ecg_leads"].append(
            ((centre, (centre[0] + rng.uniform(-0.2, 0.2), 0.0)), 0.002 * size)
        )
    names = list(tubes)
    chosen = [name for name in names if rng.random() < 0.5] or [
        names[int(rng.integers(len(names)))]
    ]
    layer = draw_polylines(size, [line for name in chosen for line in tubes[name]])
    return Drawn(region=blur(layer, 1.0) > 0.02, extra=DEVICE_DENSITY * layer)


def _cardiomegaly(anatomy: Anatomy, _side: Side | None, _rng: np.random.Generator) -> Drawn:
    """The heart itself is widened when the anatomy is built; its region is the heart."""
    return Drawn(region=anatomy.heart)


_DRAWERS: dict[str, Callable[[Anatomy, Side, np.random.Generator], Drawn]] = {
    "effusion": _effusion,
    "consolidation": _consolidation,
    "opacity": _opacity,
    "atelectasis": _atelectasis,
    "pneumothorax": _pneumothorax,
    "nodule": _nodule,
    "fracture": _fracture,
}
_CENTRAL: dict[str, Callable[[Anatomy, Side | None, np.random.Generator], Drawn]] = {
    "edema": _edema,
    "devices": _devices,
    "cardiomegaly": _cardiomegaly,
}


def draw_finding(name: FindingName, anatomy: Anatomy, rng: np.random.Generator) -> Drawn:
    """Draw one finding on the anatomy, with its own random stream."""
    side = finding_side(name)
    if side is None:
        return _CENTRAL[name](anatomy, None, rng)
    return _DRAWERS[name.rsplit("_", 1)[0]](anatomy, side, rng)
