"""Reporting one radiograph with a tiny checkpoint: the report's shape, notices and bad input.

The checkpoint has random weights (see `checkpoint_support`): the text is arbitrary, so these
tests check what inference guarantees whatever the weights: fields, ranges, overlays, errors.
"""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pydicom
import pytest
import torch
from PIL import Image
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, SecondaryCaptureImageStorage, generate_uid

from state.errors import InputError
from tests.tools.radiology.checkpoint_support import (
    FAST_DECODING,
    TEST_MODEL_ID,
    write_tiny_checkpoint,
)
from tests.tools.radiology.phantom_support import lung_masks
from tools.guards.clinical_safety import REVIEW_NOTICE
from tools.radiology.conditions import CONDITIONS, REGIONS
from tools.radiology.decoder import GenerationSettings
from tools.radiology.inference import RadiologyInference
from tools.radiology.phantoms import write_phantom
from tools.radiology.report_schema import PHANTOM_NOTICE, RANDOM_INIT_NOTICE


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_checkpoint(tmp_path_factory.mktemp("ckpt") / "tiny")


@pytest.fixture(scope="module")
def engine(checkpoint: Path) -> RadiologyInference:
    torch.set_num_threads(1)
    return RadiologyInference.load(checkpoint, torch.device("cpu"), FAST_DECODING)


@pytest.fixture(scope="module")
def phantom(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("img") / "phantom.png"
    return write_phantom("cardiomegaly,effusion_left", out, seed=2, size=200, masks=lung_masks())


def test_report_holds_text_probabilities_gate_and_one_overlay_per_query(
    engine: RadiologyInference, phantom: Path, tmp_path: Path
) -> None:
    report = engine.run(phantom, tmp_path / "heat")
    assert report.text and report.findings
    assert list(report.aux_probabilities) == list(CONDITIONS)
    assert all(0.0 <= p <= 1.0 for p in report.aux_probabilities.values())
    assert 0.0 <= report.gate <= 1.0
    assert [m.query for m in report.attention_maps] == [*CONDITIONS, *REGIONS]
    assert [m.kind for m in report.attention_maps] == ["condition"] * 14 + ["region"] * 6
    assert len({m.path for m in report.attention_maps}) == 20
    assert all(Path(m.path).is_file() for m in report.attention_maps)
    assert report.model_id == TEST_MODEL_ID
    assert report.phantom_trained and not report.pretrained
    assert len(engine.bundle.tokenizer(report.text, add_special_tokens=False).input_ids) <= 30


def test_every_phantom_trained_output_says_so_and_carries_the_review_notice(
    engine: RadiologyInference, phantom: Path, tmp_path: Path
) -> None:
    report = engine.run(phantom, tmp_path)
    assert REVIEW_NOTICE in report.notice
    assert PHANTOM_NOTICE in report.notice and "synthetic" in report.notice
    assert RANDOM_INIT_NOTICE in report.notice
    assert PHANTOM_NOTICE in report.model_dump_json()


def test_a_model_not_trained_on_phantoms_does_not_claim_it(tmp_path: Path, phantom: Path) -> None:
    checkpoint = write_tiny_checkpoint(tmp_path / "real", phantom_trained=False)
    engine = RadiologyInference.load(checkpoint, torch.device("cpu"), FAST_DECODING)
    report = engine.run(phantom, tmp_path / "heat")
    assert not report.phantom_trained
    assert PHANTOM_NOTICE not in report.notice and REVIEW_NOTICE in report.notice


def test_same_image_gives_the_same_report_and_overlay_folder(
    engine: RadiologyInference, phantom: Path, tmp_path: Path
) -> None:
    first = engine.run(phantom, tmp_path)
    second = engine.run(phantom, tmp_path)
    assert first == second


def test_default_decoding_is_the_spec_beam_search() -> None:
    settings = GenerationSettings()
    assert (settings.num_beams, settings.no_repeat_ngram_size) == (4, 3)
    assert (settings.length_penalty, settings.early_stopping) == (1.0, True)
    assert (settings.min_new_tokens, settings.max_new_tokens) == (20, 512)


def test_an_rgb_copy_of_a_grayscale_film_reads_as_the_same_image(
    engine: RadiologyInference, phantom: Path, tmp_path: Path
) -> None:
    rgb = tmp_path / "rgb.png"
    Image.open(phantom).convert("RGB").save(rgb)
    assert engine.prepare(rgb).digest == engine.prepare(phantom).digest


def _dicom(path: Path, pixels: np.ndarray | None) -> Path:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = SecondaryCaptureImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    dataset = Dataset()
    dataset.file_meta = meta
    dataset.SOPClassUID = SecondaryCaptureImageStorage
    dataset.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    dataset.Modality = "DX"
    if pixels is not None:
        dataset.set_pixel_data(pixels, photometric_interpretation="MONOCHROME1", bits_stored=12)
    dataset.save_as(path, enforce_file_format=True)
    return path


def test_16bit_png_jpeg_and_monochrome1_dicom_are_reported(
    engine: RadiologyInference, phantom: Path, tmp_path: Path
) -> None:
    film = np.asarray(Image.open(phantom), dtype=np.float32) / 255.0
    deep = tmp_path / "deep.png"
    Image.fromarray(np.round(film * 4095).astype(np.uint16)).save(deep)
    jpeg = tmp_path / "film.jpg"
    Image.open(phantom).save(jpeg, quality=92)
    inverted = np.round((1 - film) * 4095).astype(np.uint16)
    dicom = _dicom(tmp_path / "film.dcm", inverted)
    digests = set()
    for path in (deep, jpeg, dicom):
        report = engine.run(path, tmp_path / "heat")
        assert len(report.attention_maps) == 20
        digests.add(report.image_digest)
    assert len(digests) == 3
    # MONOCHROME1 is inverted back: the DICOM film matches the PNG it came from.
    assert np.abs(engine.prepare(dicom).image - engine.prepare(deep).image).mean() < 0.01


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims `width`×`height` but that holds no pixels."""
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b"")


def _bad_inputs(tmp_path: Path, phantom: Path) -> dict[str, Path]:
    data = phantom.read_bytes()
    tiny = io.BytesIO()
    Image.new("L", (8, 8)).save(tiny, format="PNG")
    files = {
        "truncated": data[: len(data) // 2],
        "corrupt": data[:64] + bytes(range(256)) * 8,
        "not an image": b"Findings: heart size normal.\n" * 10,
        "empty": b"",
        "tiny": tiny.getvalue(),
        "huge": _png_header_only(12_000, 12_000),
    }
    paths = {}
    for name, content in files.items():
        path = tmp_path / f"{name.replace(' ', '_')}.png"
        path.write_bytes(content)
        paths[name] = path
    paths["dicom without pixels"] = _dicom(tmp_path / "empty.dcm", None)
    paths["missing"] = tmp_path / "missing.png"
    return paths


def test_bad_input_is_a_typed_error_naming_the_file(
    engine: RadiologyInference, phantom: Path, tmp_path: Path
) -> None:
    expected = {
        "truncated": "truncated",
        "corrupt": "",
        "not an image": "not a PNG, JPEG or DICOM",
        "empty": "empty",
        "tiny": "at least",
        "huge": "the limit is 100 MP",
        "dicom without pixels": "no pixel data",
        "missing": "no such file",
    }
    for name, path in _bad_inputs(tmp_path, phantom).items():
        with pytest.raises(InputError) as caught:
            engine.run(path, tmp_path / "heat")
        assert path.name in str(caught.value), name
        assert expected[name] in str(caught.value), (name, str(caught.value))
    assert not (tmp_path / "heat").exists()
    assert pydicom.dcmread(tmp_path / "empty.dcm").get("PixelData") is None
