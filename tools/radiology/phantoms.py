"""Synthetic chest radiograph phantoms with known findings, deterministic from a seed.

Each phantom is a frontal film built on a real lung shape (v7labs masks). The anatomy, the heart
size, every finding and the noise draw from separate random streams of the seed, so a phantom
with a finding equals the normal phantom of the same seed outside that finding's region.

Usage:
    masks = LungMaskSet(ensure_radiology_data(cache_dir).lung_masks_zip)
    spec = PhantomSpec.parse("cardiomegaly,effusion_left")
    phantom = make_phantom(spec, seed=3, size=224, masks=masks)
    phantom.image, phantom.labels, phantom.regions["effusion_left"], phantom.anatomy["Cardiac"]
    write_phantom("cardiomegaly,effusion_left", Path("out.png"), seed=3, size=384, masks=masks)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from state.errors import InputError
from tools.radiology.lung_masks import LungMaskSet
from tools.radiology.phantom_anatomy import Anatomy, build_anatomy
from tools.radiology.phantom_findings import Drawn, draw_finding
from tools.radiology.phantom_spec import FINDINGS, FindingName, PhantomSpec
from tools.radiology.raster import smooth_noise, smoothstep

MIN_SIZE, MAX_SIZE = 64, 2048
NORMAL_CTR = (0.40, 0.47)
ENLARGED_CTR = (0.56, 0.66)
AIR_DEPTH = 0.40
LUCENT_DEPTH = 0.08
MARKING_DENSITY = 0.08
SILHOUETTE_DENSITY = 0.08
_ANATOMY, _CARDIAC, _NOISE, _FINDING = 1, 2, 3, 100


@dataclass(frozen=True)
class Phantom:
    """One phantom film: the image in [0, 1], its findings, labels and where things are.

    `labels` is the 14-condition vector of `spec`; `regions` holds a bool mask per finding (where
    it changed the film) and `anatomy` one per anatomical region of REGIONS; `ctr` is the drawn
    cardiothoracic ratio and `mask_name` the real lung mask the film was built on.
    """

    image: np.ndarray
    spec: PhantomSpec
    labels: np.ndarray
    seed: int
    ctr: float
    mask_name: str
    regions: dict[FindingName, np.ndarray]
    anatomy: dict[str, np.ndarray]

    def to_pil(self) -> Image.Image:
        """The film as an 8-bit grayscale PIL image."""
        return Image.fromarray(np.round(self.image * 255).astype(np.uint8))


def _stream(seed: int, stream: int) -> np.random.Generator:
    return np.random.default_rng([seed, stream])


def compose(anatomy: Anatomy, drawn: list[Drawn], noise: np.ndarray) -> np.ndarray:
    """Sum the density layers into a film in [0, 1].

    Body, mediastinum and bones, minus aerated lung (air the findings have not displaced), plus
    vessel markings where lung is aerated and not pneumothorax, plus findings' extra density.
    """
    zeros = np.zeros_like(anatomy.body)
    fill = np.maximum.reduce([zeros] + [d.fill for d in drawn if d.fill is not None])
    lucent = np.maximum.reduce([zeros] + [d.lucent for d in drawn if d.lucent is not None])
    extra = sum((d.extra for d in drawn if d.extra is not None), zeros)
    yy = (np.arange(anatomy.size, dtype=np.float32)[:, None] + 0.5) / anatomy.size
    above_bases = smoothstep(anatomy.bottom, anatomy.bottom - 0.12 * anatomy.height, yy)
    depth = AIR_DEPTH * (1 - 0.3 * np.clip((yy - anatomy.top) / anatomy.height, 0, 1))
    air = anatomy.lung_soft * (1 - anatomy.silhouette) * (1 - np.clip(fill, 0, 1))
    vessels = MARKING_DENSITY * anatomy.markings * air * (1 - lucent)
    density = (
        anatomy.body
        + SILHOUETTE_DENSITY * anatomy.silhouette * above_bases
        + anatomy.bones
        + anatomy.ribs
        - depth * air
        - LUCENT_DEPTH * lucent
        + vessels
        + extra
        + noise
    )
    return np.clip(density, 0.0, 1.0).astype(np.float32)


def make_phantom(spec: PhantomSpec, seed: int, size: int, masks: LungMaskSet) -> Phantom:
    """Draw the phantom of `spec` for `seed` at `size`×`size` pixels."""
    if not MIN_SIZE <= size <= MAX_SIZE:
        raise InputError(f"phantom size must be {MIN_SIZE}..{MAX_SIZE} pixels, got {size}")
    pair = masks.select(seed)
    normal_ctr, enlarged_ctr = _stream(seed, _CARDIAC).uniform(
        *zip(NORMAL_CTR, ENLARGED_CTR, strict=True)
    )
    ctr = float(enlarged_ctr if "cardiomegaly" in spec.findings else normal_ctr)
    anatomy = build_anatomy(pair, size, ctr, _stream(seed, _ANATOMY))
    drawn = {
        name: draw_finding(name, anatomy, _stream(seed, _FINDING + FINDINGS.index(name)))
        for name in spec.findings
    }
    noise_rng = _stream(seed, _NOISE)
    noise = 0.012 * smooth_noise(noise_rng, size, cells=max(8, size // 6))
    noise += 0.008 * noise_rng.standard_normal((size, size)).astype(np.float32)
    return Phantom(
        image=compose(anatomy, list(drawn.values()), noise),
        spec=spec,
        labels=spec.labels(),
        seed=seed,
        ctr=ctr,
        mask_name=pair.name,
        regions={name: d.region for name, d in drawn.items()},
        anatomy=anatomy.regions,
    )


def write_phantom(findings: str, out: Path, seed: int, size: int, *, masks: LungMaskSet) -> Path:
    """Parse `findings`, draw the phantom and save it as an 8-bit grayscale PNG; return `out`."""
    if out.suffix.lower() != ".png":
        raise InputError(f"phantom output must be a .png file, got {out}")
    phantom = make_phantom(PhantomSpec.parse(findings), seed=seed, size=size, masks=masks)
    out.parent.mkdir(parents=True, exist_ok=True)
    phantom.to_pil().save(out)
    return out
