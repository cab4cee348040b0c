"""Reading radiographs: PNG, JPEG and DICOM become [0, 1] grayscale; bad input is InputError."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pydicom
import pytest
from PIL import Image
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, SecondaryCaptureImageStorage, generate_uid

from state.errors import InputError
from tools.radiology.image_io import decode_image, fit_square, load_image, read_image

GRADIENT = np.tile(np.arange(64, dtype=np.float32) / 63, (48, 1))


def _save(path: Path, image: Image.Image, **options: object) -> Path:
    image.save(path, **options)
    return path


def _dicom(
    path: Path,
    pixels: np.ndarray,
    photometric: str = "MONOCHROME2",
    *,
    with_pixels: bool = True,
    **attributes: object,
) -> Path:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = SecondaryCaptureImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    dataset = Dataset()
    dataset.file_meta = meta
    dataset.SOPClassUID = SecondaryCaptureImageStorage
    dataset.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    dataset.Modality = "DX"
    if with_pixels:
        dataset.set_pixel_data(pixels, photometric_interpretation=photometric, bits_stored=12)
    for keyword, value in attributes.items():
        setattr(dataset, keyword, value)
    dataset.save_as(path, enforce_file_format=True)
    return path


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims `width`×`height` but that holds no pixels."""
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b"")


def test_8bit_grayscale_png_reads_as_values_over_255(tmp_path: Path) -> None:
    pixels = np.round(GRADIENT * 255).astype(np.uint8)
    image = read_image(_save(tmp_path / "g.png", Image.fromarray(pixels)))
    assert image.shape == (48, 64) and image.dtype == np.float32
    assert np.allclose(image, pixels / 255.0)


def test_16bit_png_keeps_its_precision_and_is_stretched_to_unit_range(tmp_path: Path) -> None:
    pixels = np.round(GRADIENT * 4095).astype(np.uint16)
    path = _save(tmp_path / "deep.png", Image.fromarray(pixels))
    with Image.open(path) as check:
        assert check.mode.startswith("I")
    image = read_image(path)
    assert image.min() == 0.0 and image.max() == 1.0
    assert np.allclose(image, pixels / 4095.0, atol=1e-6)
    assert len(np.unique(image)) == 64


def test_rgb_and_grayscale_versions_of_a_film_read_the_same(tmp_path: Path) -> None:
    gray = np.round(GRADIENT * 255).astype(np.uint8)
    rgb = np.stack([gray] * 3, axis=-1)
    from_gray = read_image(_save(tmp_path / "l.png", Image.fromarray(gray)))
    from_rgb = read_image(_save(tmp_path / "rgb.png", Image.fromarray(rgb)))
    assert np.abs(from_gray - from_rgb).max() <= 1 / 255


def test_rgba_transparent_pixels_read_as_black(tmp_path: Path) -> None:
    rgba = np.full((40, 40, 4), 200, dtype=np.uint8)
    rgba[..., 3] = 255
    rgba[:, :20, 3] = 0
    image = read_image(_save(tmp_path / "a.png", Image.fromarray(rgba)))
    assert image[:, :20].max() == 0.0
    assert np.allclose(image[:, 20:], 200 / 255, atol=1 / 255)


def test_jpeg_reads_close_to_its_source(tmp_path: Path) -> None:
    pixels = np.round(GRADIENT * 255).astype(np.uint8)
    image = read_image(_save(tmp_path / "g.jpg", Image.fromarray(pixels), quality=95))
    assert np.abs(image - pixels / 255.0).mean() < 0.01


def test_real_ct_and_mr_dicoms_read_as_unit_range_images() -> None:
    for name, side in (("CT_small.dcm", 128), ("MR_small.dcm", 64)):
        image = read_image(Path(get_testdata_file(name)))
        assert image.shape == (side, side) and image.dtype == np.float32
        assert image.min() == 0.0 and image.max() == 1.0
        assert image.std() > 0.05


def test_dicom_window_is_applied_after_the_modality_rescale(tmp_path: Path) -> None:
    stored = np.tile(np.arange(0, 4000, 40, dtype=np.uint16)[None, :], (40, 1))
    # Rescaled values are stored * 2 - 1000, i.e. -1000 … 6920; the window spans 0 … 2000.
    path = _dicom(
        tmp_path / "w.dcm",
        stored,
        RescaleSlope=2,
        RescaleIntercept=-1000,
        WindowCenter=1000,
        WindowWidth=2000,
    )
    image = read_image(path)
    rescaled = stored[0].astype(float) * 2 - 1000
    assert image[0][rescaled <= 0].max() == 0.0
    assert image[0][rescaled >= 2000].min() == 1.0
    inside = (rescaled > 100) & (rescaled < 1900)
    assert np.allclose(image[0][inside], rescaled[inside] / 2000, atol=0.01)


def test_monochrome1_dicom_is_inverted(tmp_path: Path) -> None:
    stored = np.round(GRADIENT * 4095).astype(np.uint16)
    normal = read_image(_dicom(tmp_path / "m2.dcm", stored, "MONOCHROME2"))
    inverted = read_image(_dicom(tmp_path / "m1.dcm", stored, "MONOCHROME1"))
    assert normal[0, 0] == 0.0 and inverted[0, 0] == 1.0
    assert np.allclose(inverted, 1.0 - normal)


def test_decode_image_reads_bytes_and_a_preambleless_dicom_by_suffix() -> None:
    dataset = pydicom.dcmread(get_testdata_file("MR_small.dcm"))
    dataset.preamble = None
    buffer = io.BytesIO()
    dataset.save_as(buffer, enforce_file_format=False)
    data = buffer.getvalue()
    assert data[128:132] != b"DICM"
    image = decode_image(data, "scan.dcm")
    assert image.shape == (64, 64) and image.max() == 1.0
    with pytest.raises(InputError, match="not a PNG, JPEG or DICOM"):
        decode_image(data, "scan.bin")


def test_fit_square_keeps_the_aspect_ratio_and_pads_with_black() -> None:
    wide = np.ones((50, 100), dtype=np.float32)
    square = fit_square(wide, 64)
    assert square.shape == (64, 64)
    filled = np.flatnonzero(square.max(axis=1) > 0.5)
    assert len(filled) == 32 and filled[0] == 16
    assert square[:16].max() == 0.0 and square[48:].max() == 0.0
    tall = fit_square(np.ones((100, 40), dtype=np.float32), 50)
    assert np.flatnonzero(tall.max(axis=0) > 0.5).size == 20


def test_load_image_resizes_to_the_square_resolution(tmp_path: Path) -> None:
    pixels = np.round(GRADIENT * 255).astype(np.uint8)
    image = load_image(_save(tmp_path / "g.png", Image.fromarray(pixels)), 32)
    assert image.shape == (32, 32) and image.dtype == np.float32
    assert image.min() >= 0.0 and image.max() <= 1.0
    assert image[16, 28] > image[16, 4]


def test_missing_path_directory_and_empty_file_are_input_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        read_image(tmp_path / "absent.png")
    with pytest.raises(InputError, match="not a regular file"):
        read_image(tmp_path)
    (tmp_path / "empty.png").write_bytes(b"")
    with pytest.raises(InputError, match="empty"):
        read_image(tmp_path / "empty.png")


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("notes.txt", b"Findings: no acute cardiopulmonary process.\n" * 20),
        ("report.pdf", b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n"),
        ("noise.png", bytes(range(256)) * 8),
    ],
)
def test_non_images_are_input_errors(tmp_path: Path, name: str, content: bytes) -> None:
    (tmp_path / name).write_bytes(content)
    with pytest.raises(InputError, match="not a PNG, JPEG or DICOM"):
        read_image(tmp_path / name)


def test_other_image_formats_are_refused_by_name(tmp_path: Path) -> None:
    path = _save(tmp_path / "x.gif", Image.fromarray(np.zeros((40, 40), dtype=np.uint8)))
    with pytest.raises(InputError, match="GIF images are not supported"):
        read_image(path)


@pytest.mark.parametrize(("suffix", "fmt"), [(".png", "PNG"), (".jpg", "JPEG")])
def test_truncated_png_and_jpeg_are_input_errors(tmp_path: Path, suffix: str, fmt: str) -> None:
    noise = np.random.default_rng(0).integers(0, 256, (128, 128), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(noise).save(buffer, format=fmt)
    path = tmp_path / f"cut{suffix}"
    path.write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])
    with pytest.raises(InputError, match="corrupt or truncated"):
        read_image(path)


def test_colour_and_palette_dicoms_read_as_luminance() -> None:
    for name in ("SC_rgb_rle.dcm", "examples_palette.dcm"):
        image = read_image(Path(get_testdata_file(name)))
        assert image.ndim == 2 and image.min() == 0.0 and image.max() == 1.0


def test_truncated_and_corrupt_dicoms_are_input_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="pixel data"):
        read_image(Path(get_testdata_file("MR_truncated.dcm")))
    data = Path(get_testdata_file("CT_small.dcm")).read_bytes()
    (tmp_path / "half.dcm").write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError):
        read_image(tmp_path / "half.dcm")
    (tmp_path / "junk.dcm").write_bytes(b"\0" * 128 + b"DICM" + bytes(range(256)) * 4)
    with pytest.raises(InputError, match="DICOM"):
        read_image(tmp_path / "junk.dcm")


def test_dicoms_without_pixel_data_are_input_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no pixel data"):
        read_image(Path(get_testdata_file("rtplan.dcm")))
    written = _dicom(tmp_path / "empty.dcm", np.zeros((8, 8), np.uint16), with_pixels=False)
    with pytest.raises(InputError, match="no pixel data"):
        read_image(written)


def test_tiny_images_are_input_errors(tmp_path: Path) -> None:
    path = _save(tmp_path / "tiny.png", Image.fromarray(np.zeros((16, 200), dtype=np.uint8)))
    with pytest.raises(InputError, match="at least 32"):
        read_image(path)
    cr = Path(get_testdata_file("6154"))  # a real 16×16 MONOCHROME1 CR image
    with pytest.raises(InputError, match="at least 32"):
        read_image(cr)


@pytest.mark.parametrize(("width", "height"), [(11_000, 10_000), (20_000, 20_000)])
def test_huge_images_are_refused_before_decoding(tmp_path: Path, width: int, height: int) -> None:
    path = tmp_path / "huge.png"
    path.write_bytes(_png_header_only(width, height))
    with pytest.raises(InputError, match=r"too large|limit is 100 MP"):
        read_image(path)
    claims = _dicom(
        tmp_path / "huge.dcm", np.zeros((40, 40), np.uint16), Rows=height, Columns=width
    )
    with pytest.raises(InputError, match="limit is 100 MP"):
        read_image(claims)
