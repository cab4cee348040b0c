"""Read a chest radiograph (PNG, JPEG or DICOM) as a grayscale float image in [0, 1].

Every way an input can be wrong (missing, unreadable, truncated, not an image, too small, too
large, a DICOM without pixels) is an `InputError` whose message names the file and the problem.

- 8-bit images are divided by 255; 16-bit PNGs are stretched over their own range, because they
  usually hold 10–14-bit detector data.
- Colour images become luminance (ITU-R 601); transparent pixels count as black; a JPEG's
  EXIF orientation is applied (phone photographs of films).
- DICOM: the modality LUT (rescale slope and intercept) and then the VOI LUT or window are
  applied, the result is stretched to [0, 1], and MONOCHROME1 (white = low values) is inverted.
  Colour and palette-colour DICOMs become luminance. A multi-frame DICOM gives its first frame.
- `fit_square` keeps the aspect ratio: it scales the long side to the target and pads the short
  side with black, centred, so anatomy is never stretched.

Usage:
    image = load_image(Path("cxr.dcm"), size=384)      # (384, 384) float32
    image = decode_image(upload_bytes, "upload.png")   # native resolution, from memory
"""

from __future__ import annotations

import io
import struct
import warnings
from pathlib import Path

import numpy as np
import pydicom
from PIL import Image, ImageOps, UnidentifiedImageError
from pydicom.errors import InvalidDicomError
from pydicom.pixels import apply_color_lut, apply_modality_lut, apply_voi_lut

from state.errors import InputError

MIN_SIDE = 32
MAX_PIXELS = 100_000_000
MAX_FILE_BYTES = 512 * 1024 * 1024
_PIL_FORMATS = {"PNG": "PNG", "JPEG": "JPEG", "MPO": "JPEG"}
_DICOM_SUFFIXES = (".dcm", ".dicom")
_DICOM_MAGIC_AT = 128
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)
_PIXEL_DATA = ("PixelData", "FloatPixelData", "DoubleFloatPixelData")
# What Pillow raises on a broken file, and what pydicom raises on a malformed dataset or pixel
# data (missing attributes, unsupported or inconsistent encodings, short buffers).
_PIL_ERRORS = (OSError, SyntaxError, ValueError, EOFError, struct.error)
_DICOM_ERRORS = (
    *_PIL_ERRORS,
    InvalidDicomError,
    KeyError,
    AttributeError,
    NotImplementedError,
    RuntimeError,
    TypeError,
    IndexError,
)


def _check_dimensions(source: str, width: int, height: int) -> None:
    if min(width, height) < MIN_SIDE:
        raise InputError(
            f"{source}: image is {width}×{height} pixels; each side must be at least {MIN_SIDE}"
        )
    if width * height > MAX_PIXELS:
        raise InputError(
            f"{source}: image is {width}×{height} pixels ({width * height / 1e6:.0f} MP); "
            f"the limit is {MAX_PIXELS / 1e6:.0f} MP"
        )


def _stretch(values: np.ndarray) -> np.ndarray:
    """Linearly map the values' own range onto [0, 1] (a constant image becomes 0)."""
    values = values.astype(np.float64)
    low, high = float(values.min()), float(values.max())
    if high <= low:
        return np.zeros(values.shape, dtype=np.float32)
    return ((values - low) / (high - low)).astype(np.float32)


def _luminance(rgb: np.ndarray) -> np.ndarray:
    return (rgb[..., :3].astype(np.float32) @ _LUMA).astype(np.float32)


def pil_to_gray(image: Image.Image) -> np.ndarray:
    """A decoded PIL image of any mode as grayscale float in [0, 1]."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        return _stretch(np.asarray(image))
    if "A" in image.getbands() or "a" in image.getbands():
        rgba = np.asarray(image.convert("RGBA"), dtype=np.float32) / 255.0
        return (_luminance(rgba) * rgba[..., 3]).astype(np.float32)
    return (np.asarray(image.convert("L"), dtype=np.float32) / 255.0).astype(np.float32)


def _decode_pil(data: bytes, source: str) -> np.ndarray:
    try:
        with warnings.catch_warnings():
            # The pixel limit is checked below, before any pixel is decoded.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError as exc:
        raise InputError(f"{source}: image is too large to decode safely ({exc})") from exc
    except UnidentifiedImageError as exc:
        raise InputError(f"{source}: not a PNG, JPEG or DICOM image") from exc
    except _PIL_ERRORS as exc:
        raise InputError(f"{source}: unreadable image header ({exc})") from exc
    with image:
        if image.format not in _PIL_FORMATS:
            raise InputError(
                f"{source}: {image.format} images are not supported; use PNG, JPEG or DICOM"
            )
        _check_dimensions(source, *image.size)
        try:
            image.load()
            upright = ImageOps.exif_transpose(image)
        except _PIL_ERRORS as exc:
            raise InputError(f"{source}: corrupt or truncated {image.format} file ({exc})") from exc
        return pil_to_gray(upright)


def _decode_dicom(data: bytes, source: str, *, force: bool) -> np.ndarray:
    try:
        dataset = pydicom.dcmread(io.BytesIO(data), force=force)
    except _DICOM_ERRORS as exc:
        raise InputError(f"{source}: not a readable DICOM file ({exc})") from exc
    if not any(keyword in dataset for keyword in _PIXEL_DATA):
        raise InputError(f"{source}: DICOM file has no pixel data (is it an image object?)")
    rows, columns = dataset.get("Rows"), dataset.get("Columns")
    if not rows or not columns:
        raise InputError(f"{source}: DICOM file does not say its image size (Rows, Columns)")
    _check_dimensions(source, int(columns), int(rows))
    photometric = str(dataset.get("PhotometricInterpretation", "")).upper()
    colour = int(dataset.get("SamplesPerPixel", 1) or 1) > 1 or photometric == "PALETTE COLOR"
    try:
        pixels = dataset.pixel_array
        if int(dataset.get("NumberOfFrames", 1) or 1) > 1:
            pixels = pixels[0]
        if photometric == "PALETTE COLOR":
            pixels = apply_color_lut(pixels, dataset)
        elif not colour:
            pixels = apply_voi_lut(apply_modality_lut(pixels, dataset), dataset, index=0)
    except _DICOM_ERRORS as exc:
        raise InputError(f"{source}: corrupt or undecodable DICOM pixel data ({exc})") from exc
    if colour:
        return _stretch(_luminance(pixels))
    image = _stretch(pixels)
    if photometric == "MONOCHROME1":
        image = 1.0 - image
    return image.astype(np.float32)


def decode_image(data: bytes, source: str) -> np.ndarray:
    """Decode PNG, JPEG or DICOM bytes into a grayscale float32 image in [0, 1].

    `source` names the input in error messages; a `.dcm`/`.dicom` suffix also lets a DICOM
    file without the standard 128-byte preamble be read.
    """
    if data[_DICOM_MAGIC_AT : _DICOM_MAGIC_AT + 4] == b"DICM":
        return _decode_dicom(data, source, force=False)
    if source.lower().endswith(_DICOM_SUFFIXES):
        return _decode_dicom(data, source, force=True)
    return _decode_pil(data, source)


def read_image(path: Path) -> np.ndarray:
    """Read an image file at its native resolution as grayscale float32 in [0, 1]."""
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if not path.is_file():
        raise InputError(f"{path}: not a regular file")
    size = path.stat().st_size
    if size == 0:
        raise InputError(f"{path}: file is empty")
    if size > MAX_FILE_BYTES:
        raise InputError(f"{path}: file is {size / 2**20:.0f} MiB; the limit is 512 MiB")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot be read ({exc.strerror or exc})") from exc
    return decode_image(data, str(path))


def fit_square(image: np.ndarray, size: int) -> np.ndarray:
    """Scale the long side to `size` (antialiased) and pad the short side with black, centred."""
    height, width = image.shape
    scale = size / max(height, width)
    new_height = max(1, round(height * scale))
    new_width = max(1, round(width * scale))
    resized = Image.fromarray(image.astype(np.float32)).resize(
        (new_width, new_height), Image.Resampling.BILINEAR
    )
    square = np.zeros((size, size), dtype=np.float32)
    top, left = (size - new_height) // 2, (size - new_width) // 2
    square[top : top + new_height, left : left + new_width] = np.clip(np.asarray(resized), 0, 1)
    return square


def load_image(path: Path, size: int) -> np.ndarray:
    """Read an image file and fit it into a `size`×`size` grayscale float32 square."""
    return fit_square(read_image(path), size)
