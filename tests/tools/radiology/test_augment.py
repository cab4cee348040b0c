"""Spec §5.3 transforms: bounded, seeded augmentation that never flips, and 0.5/0.5 normalising."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from state.errors import InputError
from tools.radiology.augment import (
    AugmentParams,
    AugmentRanges,
    EvalTransform,
    TrainTransform,
    apply,
    to_tensor,
)

SIZE = 64


def _asymmetric() -> np.ndarray:
    """A film-like image with much more mass on the image right (like a heart)."""
    image = np.full((80, 80), 0.2, dtype=np.float32)
    image[30:70, 45:75] = 0.9
    image[10:20, 10:20] = 0.6
    return image


def _centroid(image: torch.Tensor) -> tuple[float, float]:
    weights = image.reshape(image.shape[-2:]).double()
    ys, xs = torch.meshgrid(
        torch.arange(weights.shape[0], dtype=torch.float64),
        torch.arange(weights.shape[1], dtype=torch.float64),
        indexing="ij",
    )
    return float((weights * xs).sum() / weights.sum()), float((weights * ys).sum() / weights.sum())


def _block(size: int = SIZE) -> torch.Tensor:
    image = torch.zeros(1, size, size)
    image[0, 24:40, 24:40] = 1.0
    return image


def test_sampled_parameters_stay_within_the_spec_ranges() -> None:
    ranges, generator = AugmentRanges(), torch.Generator().manual_seed(0)
    draws = [ranges.sample(generator) for _ in range(500)]
    assert all(abs(p.degrees) <= 5 for p in draws)
    assert all(max(abs(p.translate[0]), abs(p.translate[1])) <= 0.03 for p in draws)
    assert all(0.97 <= p.scale <= 1.03 for p in draws)
    assert all(0.95 <= p.brightness <= 1.05 and 0.95 <= p.contrast <= 1.05 for p in draws)
    assert max(p.degrees for p in draws) > 4.5 and min(p.degrees for p in draws) < -4.5


def test_augmentation_never_flips_the_left_right_asymmetry() -> None:
    transform = TrainTransform(SIZE, channels=1, seed=3)
    image = _asymmetric()
    for _ in range(60):
        pixels = transform(image)[0]
        assert (pixels[:, SIZE // 2 :].mean() - pixels[:, : SIZE // 2].mean()) > 0.2
        assert _centroid(pixels + 1)[0] > SIZE / 2


def test_outputs_are_normalised_and_bounded() -> None:
    transform = TrainTransform(SIZE, seed=1)
    for _ in range(20):
        pixels = transform(_asymmetric())
        assert pixels.shape == (3, SIZE, SIZE) and pixels.dtype == torch.float32
        assert pixels.min() >= -1.0 and pixels.max() <= 1.0
        assert torch.equal(pixels[0], pixels[1]) and torch.equal(pixels[1], pixels[2])


def test_eval_transform_only_resizes_and_maps_to_mean_half_std_half() -> None:
    image = np.random.default_rng(0).random((SIZE, SIZE), dtype=np.float32)
    pixels = EvalTransform(SIZE)(image)
    assert torch.allclose(pixels[0], (torch.from_numpy(image) - 0.5) / 0.5)
    uniform = EvalTransform(SIZE)(np.full((SIZE, SIZE), 0.5, dtype=np.float32))
    assert torch.allclose(uniform, torch.zeros_like(uniform))
    resized = EvalTransform(32)(np.ones((100, 100), dtype=np.float32))
    assert resized.shape == (3, 32, 32) and torch.allclose(resized, torch.ones_like(resized))


def test_same_seed_same_output_and_a_new_draw_each_call() -> None:
    image = _asymmetric()
    first = TrainTransform(SIZE, seed=9)
    again = TrainTransform(SIZE, seed=9)
    a, b = first(image), first(image)
    assert torch.equal(a, again(image))
    assert not torch.equal(a, b)
    per_sample = [TrainTransform(SIZE)(image, torch.Generator().manual_seed(4)) for _ in range(2)]
    assert torch.equal(per_sample[0], per_sample[1])


def test_identity_parameters_leave_the_image_unchanged() -> None:
    image = _block()
    assert torch.allclose(apply(image, AugmentParams.identity()), image, atol=1e-5)


def test_translation_moves_content_right_and_down_by_the_fraction() -> None:
    moved = apply(_block(), AugmentParams(0.0, (0.03, -0.03), 1.0, 1.0, 1.0))
    (x0, y0), (x1, y1) = _centroid(_block()), _centroid(moved)
    assert x1 - x0 == pytest.approx(0.03 * SIZE, abs=0.2)
    assert y1 - y0 == pytest.approx(-0.03 * SIZE, abs=0.2)


def test_scale_and_rotation_change_the_geometry_as_asked() -> None:
    bigger = apply(_block(), AugmentParams(0.0, (0.0, 0.0), 1.03, 1.0, 1.0))
    assert bigger.sum() / _block().sum() == pytest.approx(1.03**2, rel=0.01)
    line = torch.zeros(1, SIZE, SIZE)
    line[0, 31:33, 8:56] = 1.0
    turned = apply(line, AugmentParams(5.0, (0.0, 0.0), 1.0, 1.0, 1.0))
    left, right = turned.clone(), turned.clone()
    left[..., 24:] = 0
    right[..., :40] = 0
    (left_x, left_y), (right_x, right_y) = _centroid(left), _centroid(right)
    assert (right_y - left_y) / (right_x - left_x) == pytest.approx(np.tan(np.radians(5)), abs=0.02)


def test_brightness_and_contrast_jitter_scale_around_the_mean() -> None:
    image = torch.linspace(0.2, 0.8, SIZE * SIZE).reshape(1, SIZE, SIZE)
    brighter = apply(image, AugmentParams(0.0, (0.0, 0.0), 1.0, 1.05, 1.0))
    assert torch.allclose(brighter, image * 1.05, atol=1e-4)
    contrast = apply(image, AugmentParams(0.0, (0.0, 0.0), 1.0, 1.0, 0.95))
    assert contrast.mean() == pytest.approx(image.mean().item(), abs=1e-4)
    assert contrast.std() == pytest.approx(0.95 * image.std().item(), rel=1e-3)


def test_inputs_may_be_numpy_pil_or_tensors() -> None:
    gray = np.round(_asymmetric() * 255).astype(np.uint8)
    from_numpy = to_tensor(gray)
    from_pil = to_tensor(Image.fromarray(gray))
    from_tensor = to_tensor(torch.from_numpy(gray.astype(np.float32) / 255))
    assert from_numpy.shape == (1, 80, 80)
    assert torch.allclose(from_numpy, from_pil) and torch.allclose(from_numpy, from_tensor)
    with pytest.raises(InputError, match="grayscale"):
        to_tensor(torch.zeros(3, 8, 8))
