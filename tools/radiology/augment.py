"""Image transforms of spec §5.3: medically valid training augmentation, and the eval transform.

Training resizes, then rotates (±5°), translates (±3% of the side), scales (0.97–1.03) and jitters
brightness and contrast (±0.05), then normalises with mean 0.5 and std 0.5 and repeats the gray
channel for the RGB vision encoder. There is deliberately NO horizontal flip: it would move the
heart to the right (dextrocardia) and swap every left/right finding. Evaluation only resizes and
normalises. Geometry uses torch's `affine_grid`/`grid_sample` (bilinear, black outside).

Inputs are grayscale in [0, 1]: an (H, W) numpy array, a PIL image, or an (H, W) or (1, H, W)
tensor. Images from `load_image` are already square; others are resized to size×size as the
spec's `Resize` does.

Usage:
    train = TrainTransform(size=384, seed=0)
    pixels = train(image)                                        # [3, 384, 384], next draw
    pixels = train(image, torch.Generator().manual_seed(7))      # reproducible per sample
    pixels = EvalTransform(size=384)(image)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from state.errors import InputError
from tools.radiology.image_io import pil_to_gray

MEAN = 0.5
STD = 0.5

ImageInput = np.ndarray | Image.Image | torch.Tensor


@dataclass(frozen=True)
class AugmentParams:
    """One draw of the training augmentation."""

    degrees: float
    translate: tuple[float, float]
    scale: float
    brightness: float
    contrast: float

    @classmethod
    def identity(cls) -> AugmentParams:
        """Parameters that leave an image unchanged."""
        return cls(degrees=0.0, translate=(0.0, 0.0), scale=1.0, brightness=1.0, contrast=1.0)


@dataclass(frozen=True)
class AugmentRanges:
    """The ranges of spec §5.3; translation is a fraction of the image side, jitter a factor."""

    degrees: float = 5.0
    translate: float = 0.03
    scale: tuple[float, float] = (0.97, 1.03)
    brightness: float = 0.05
    contrast: float = 0.05

    def sample(self, generator: torch.Generator) -> AugmentParams:
        """Draw parameters uniformly within the ranges."""
        u = torch.rand(6, generator=generator, dtype=torch.float64).tolist()
        return AugmentParams(
            degrees=(2 * u[0] - 1) * self.degrees,
            translate=((2 * u[1] - 1) * self.translate, (2 * u[2] - 1) * self.translate),
            scale=self.scale[0] + u[3] * (self.scale[1] - self.scale[0]),
            brightness=1 + (2 * u[4] - 1) * self.brightness,
            contrast=1 + (2 * u[5] - 1) * self.contrast,
        )


def to_tensor(image: ImageInput) -> torch.Tensor:
    """A grayscale image as a float32 (1, H, W) tensor with values in [0, 1]."""
    if isinstance(image, Image.Image):
        image = pil_to_gray(image)
    if isinstance(image, np.ndarray):
        array = image.astype(np.float32) / 255.0 if image.dtype == np.uint8 else image
        image = torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))
    tensor = image.float()
    if tensor.ndim == 2:
        tensor = tensor[None]
    if tensor.ndim != 3 or tensor.shape[0] != 1:
        raise InputError(
            f"expected a grayscale (H, W) or (1, H, W) image, got {list(tensor.shape)}"
        )
    return tensor


def resize(image: torch.Tensor, size: int) -> torch.Tensor:
    """Resize a (1, H, W) image to (1, size, size), antialiased when shrinking."""
    if tuple(image.shape[-2:]) == (size, size):
        return image
    resized = F.interpolate(
        image[None], size=(size, size), mode="bilinear", antialias=True, align_corners=False
    )
    return resized[0].clamp(0.0, 1.0)


def apply(image: torch.Tensor, params: AugmentParams) -> torch.Tensor:
    """Rotate, scale and translate a square (1, S, S) image about its centre, then jitter it.

    Positive `degrees` turn the content clockwise on screen; positive translation moves it right
    and down. Pixels brought in from outside the image are black.
    """
    angle = math.radians(params.degrees)
    cos, sin = math.cos(angle), math.sin(angle)
    # affine_grid maps each output position to where it samples the input: the inverse of
    # "scale, rotate, then shift" (normalised coordinates span 2 units per image side).
    shift_x, shift_y = 2 * params.translate[0], 2 * params.translate[1]
    inverse = torch.tensor([[cos, sin], [-sin, cos]], dtype=torch.float32) / params.scale
    offset = -inverse @ torch.tensor([shift_x, shift_y], dtype=torch.float32)
    theta = torch.cat([inverse, offset[:, None]], dim=1)[None]
    grid = F.affine_grid(theta, [1, *image.shape], align_corners=False)
    moved = F.grid_sample(
        image[None], grid, mode="bilinear", padding_mode="zeros", align_corners=False
    )[0]
    bright = (moved * params.brightness).clamp(0.0, 1.0)
    mean = bright.mean()
    return ((bright - mean) * params.contrast + mean).clamp(0.0, 1.0)


def normalise(image: torch.Tensor, channels: int) -> torch.Tensor:
    """Map [0, 1] to [-1, 1] (mean 0.5, std 0.5) and repeat the gray channel `channels` times."""
    return ((image - MEAN) / STD).expand(channels, -1, -1).contiguous()


class TrainTransform:
    """Spec §5.3 training augmentation: seeded, no flips, normalised."""

    def __init__(
        self, size: int, *, ranges: AugmentRanges | None = None, channels: int = 3, seed: int = 0
    ) -> None:
        self.size = size
        self.ranges = ranges or AugmentRanges()
        self.channels = channels
        self._generator = torch.Generator().manual_seed(seed)

    def __call__(self, image: ImageInput, generator: torch.Generator | None = None) -> torch.Tensor:
        params = self.ranges.sample(generator or self._generator)
        return normalise(apply(resize(to_tensor(image), self.size), params), self.channels)


class EvalTransform:
    """Spec §5.3 validation and test transform: resize and normalise only."""

    def __init__(self, size: int, *, channels: int = 3) -> None:
        self.size = size
        self.channels = channels

    def __call__(self, image: ImageInput) -> torch.Tensor:
        return normalise(resize(to_tensor(image), self.size), self.channels)
