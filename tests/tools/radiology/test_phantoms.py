"""Phantoms: deterministic films whose findings change the expected region, on the right side."""

from __future__ import annotations

import functools
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from state.errors import InputError
from tests.tools.radiology.phantom_support import lung_masks, measured_ctr, widest_row
from tools.radiology.augment import EvalTransform
from tools.radiology.conditions import REGIONS
from tools.radiology.image_io import load_image
from tools.radiology.phantom_anatomy import build_anatomy
from tools.radiology.phantom_findings import draw_finding
from tools.radiology.phantom_spec import FINDINGS, FindingName, PhantomSpec, finding_side
from tools.radiology.phantoms import Phantom, compose, make_phantom, write_phantom
from tools.radiology.raster import blur

SIZE = 128
SEED = 21


@functools.cache
def phantom(findings: str, seed: int = SEED, size: int = SIZE) -> Phantom:
    return make_phantom(PhantomSpec.parse(findings), seed=seed, size=size, masks=lung_masks())


def _midline(film: Phantom) -> float:
    return float(np.median(np.nonzero(film.anatomy["Spine"])[1]))


def test_same_seed_gives_the_same_film_and_another_seed_another() -> None:
    spec = PhantomSpec.parse("cardiomegaly,effusion_left,devices")
    first = make_phantom(spec, seed=5, size=SIZE, masks=lung_masks())
    again = make_phantom(spec, seed=5, size=SIZE, masks=lung_masks())
    other = make_phantom(spec, seed=6, size=SIZE, masks=lung_masks())
    assert np.array_equal(first.image, again.image)
    assert np.abs(first.image - other.image).mean() > 0.01


def test_film_is_a_float_image_in_unit_range_with_labels_and_regions() -> None:
    film = phantom("edema,nodule_right")
    assert film.image.shape == (SIZE, SIZE) and film.image.dtype == np.float32
    assert film.image.min() >= 0.0 and film.image.max() <= 1.0
    assert film.image.std() > 0.1
    assert np.array_equal(film.labels, film.spec.labels())
    assert set(film.regions) == {"edema", "nodule_right"}
    assert set(film.anatomy) == set(REGIONS)
    pil = film.to_pil()
    assert pil.mode == "L" and pil.size == (SIZE, SIZE)


def test_anatomy_puts_the_patients_left_lung_and_most_of_the_heart_on_the_image_right() -> None:
    film = phantom("normal")
    centre_x = {name: np.nonzero(mask)[1].mean() for name, mask in film.anatomy.items()}
    midline = _midline(film)
    assert centre_x["Right Lung"] < midline < centre_x["Left Lung"]
    assert centre_x["Cardiac"] > midline
    lungs = film.anatomy["Left Lung"] | film.anatomy["Right Lung"]
    assert film.image[lungs].mean() < film.image[film.anatomy["Cardiac"] & ~lungs].mean() - 0.2


@pytest.mark.parametrize("name", FINDINGS)
def test_each_finding_changes_the_film_only_in_its_region_and_on_its_side(
    name: FindingName,
) -> None:
    normal, film = phantom("normal"), phantom(name)
    change = np.abs(film.image - normal.image)
    region = film.regions[name]
    assert change.max() > 0.03, "the finding left the film unchanged"
    near = blur(region.astype(np.float32), 1.5) > 0.02
    assert change[near].sum() >= 0.95 * change.sum()
    side = finding_side(name)
    if side is not None:
        centre_x = (change * np.arange(SIZE)[None, :]).sum() / change.sum()
        midline = _midline(normal)
        assert (centre_x > midline) == (side == "left"), f"{name} drawn on the wrong side"


@pytest.mark.parametrize("side", ["left", "right"])
def test_effusion_fills_the_lower_lung_with_fluid_density_on_its_side(side: str) -> None:
    normal, film = phantom("normal"), phantom(f"effusion_{side}")
    lung = normal.anatomy["Left Lung" if side == "left" else "Right Lung"]
    change = film.image - normal.image
    assert change[lung].min() > -0.05 and change[lung].max() > 0.2
    rows = np.flatnonzero(lung.any(axis=1))
    upper_half, lower_half = rows[: len(rows) // 2], rows[len(rows) // 2 :]
    assert change[lower_half][lung[lower_half]].sum() > 20 * abs(
        change[upper_half][lung[upper_half]].sum()
    )


def test_consolidation_and_nodule_brighten_and_pneumothorax_darkens() -> None:
    normal = phantom("normal")
    for name, sign in (("consolidation_right", 1), ("nodule_left", 1), ("pneumothorax_left", -1)):
        film = phantom(name)
        region = film.regions[name]
        assert sign * (film.image - normal.image)[region].mean() > 0.02, name


def test_pneumothorax_rim_shows_no_vessel_markings_but_the_rest_of_the_lung_does() -> None:
    anatomy = build_anatomy(lung_masks().select(SEED), SIZE, 0.44, np.random.default_rng(1))
    drawn = draw_finding("pneumothorax_right", anatomy, np.random.default_rng(2))
    without_vessels = replace(anatomy, markings=np.zeros_like(anatomy.markings))
    noise = np.zeros_like(anatomy.body)
    vessels = compose(anatomy, [drawn], noise) - compose(without_vessels, [drawn], noise)
    lung = anatomy.lungs["right"] & (blur(anatomy.lungs["right"].astype(np.float32), 2.0) > 0.99)
    rim = lung & (blur(drawn.region.astype(np.float32), 2.0) > 0.99)
    assert rim.sum() > 30 and (lung & ~drawn.region).sum() > 30
    assert np.abs(vessels[rim]).max() < 0.01
    assert vessels[lung & ~drawn.region].mean() > 0.01


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_cardiomegaly_has_a_measured_ctr_above_half_and_normal_below(seed: int) -> None:
    for findings, enlarged in (("normal", False), ("cardiomegaly", True)):
        film = phantom(findings, seed=seed, size=160)
        lungs = film.anatomy["Left Lung"] | film.anatomy["Right Lung"]
        heart = film.anatomy["Cardiac"]
        ctr = measured_ctr(film.image, lungs, heart, round(_midline(film)))
        assert (ctr > 0.52) if enlarged else (ctr < 0.48), (findings, ctr)
        assert abs(widest_row(heart) / widest_row(lungs) - film.ctr) < 0.03


def test_write_phantom_saves_a_grayscale_png_of_the_asked_size(tmp_path: Path) -> None:
    out = write_phantom(
        "cardiomegaly,effusion_left", tmp_path / "sub" / "cxr.png", 4, 96, masks=lung_masks()
    )
    with Image.open(out) as image:
        assert image.format == "PNG" and image.mode == "L" and image.size == (96, 96)
        pixels = np.asarray(image)
    expected = make_phantom(PhantomSpec.parse("cardiomegaly,effusion_left"), 4, 96, lung_masks())
    assert np.abs(pixels / 255.0 - expected.image).max() <= 0.5 / 255 + 1e-6


def test_a_written_phantom_reads_back_through_image_io_and_the_eval_transform(
    tmp_path: Path,
) -> None:
    out = write_phantom("pneumothorax_left", tmp_path / "p.png", 2, 96, masks=lung_masks())
    pixels = EvalTransform(64)(load_image(out, 64))
    assert pixels.shape == (3, 64, 64)
    film = phantom("pneumothorax_left", seed=2, size=96)
    expected = EvalTransform(64)(film.image)
    assert (pixels - expected).abs().mean() < 0.01


def test_write_phantom_rejects_bad_names_suffixes_and_sizes(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="valid findings"):
        write_phantom("cardiomegally", tmp_path / "a.png", 0, 96, masks=lung_masks())
    with pytest.raises(InputError, match=r"\.png"):
        write_phantom("edema", tmp_path / "a.jpg", 0, 96, masks=lung_masks())
    with pytest.raises(InputError, match="size"):
        write_phantom("edema", tmp_path / "a.png", 0, 16, masks=lung_masks())
    assert not list(tmp_path.iterdir())
