"""The MiniLM embedder: shapes, unit length, fp32 fidelity of the fast path, long-text windows."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from state.errors import AssetError, ConfigError
from tools.models.embedder import EMBEDDING_DIM, MiniLMEmbedder
from tools.models.registry import ModelRegistry

TEXTS = [
    "draft a report for this chest x-ray",
    "and then quiz me on pleural effusions, the harder questions please",
    "hi",
]
LONG_TEXT = " ".join(
    f"Paragraph {i}: the lungs are clear, the heart size is normal and there is no effusion."
    for i in range(40)
)


@pytest.fixture(scope="module")
def optimised() -> MiniLMEmbedder:
    return ModelRegistry("cpu").get("minilm", MiniLMEmbedder.load)


@pytest.fixture(scope="module")
def reference() -> MiniLMEmbedder:
    return MiniLMEmbedder.load("cpu", quantize=False, trace=False)


def test_embed_returns_unit_length_float32_rows(optimised: MiniLMEmbedder) -> None:
    vectors = optimised.embed(TEXTS)
    assert vectors.shape == (3, EMBEDDING_DIM)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert optimised.embed([]).shape == (0, EMBEDDING_DIM)


def test_batched_rows_equal_unbatched_embeddings_on_the_int8_path(
    optimised: MiniLMEmbedder,
) -> None:
    assert optimised.pad_free
    batch = optimised.embed(TEXTS)
    for text, row in zip(TEXTS, batch, strict=True):
        np.testing.assert_allclose(optimised.embed_one(text), row, atol=1e-6)


def test_optimised_embeddings_stay_close_to_fp32(
    optimised: MiniLMEmbedder, reference: MiniLMEmbedder
) -> None:
    cosines = (optimised.embed(TEXTS) * reference.embed(TEXTS)).sum(axis=1)
    assert cosines.min() > 0.95


def test_traced_fp32_matches_eager_on_lengths_it_was_not_traced_with(
    reference: MiniLMEmbedder,
) -> None:
    traced = MiniLMEmbedder.load("cpu", quantize=False, trace=True, threads=0)
    assert traced.variant == "fp32+traced, cpu"
    np.testing.assert_allclose(traced.embed(TEXTS), reference.embed(TEXTS), atol=1e-5)


def test_long_text_is_embedded_in_overlapping_windows(optimised: MiniLMEmbedder) -> None:
    tokens = optimised.token_count(LONG_TEXT)
    assert tokens > 3 * optimised.max_tokens
    windowed = optimised.embed_windows(LONG_TEXT, overlap=32)
    body = optimised.max_tokens - 2
    assert len(windowed.windows) == len(windowed.spans) >= tokens // body + 1
    starts = [start for start, _ in windowed.spans]
    ends = [end for _, end in windowed.spans]
    assert starts[0] == 0 and ends[-1] == len(LONG_TEXT)
    assert all(b < a for a, b in zip(ends, starts[1:], strict=False))  # windows overlap
    np.testing.assert_allclose(np.linalg.norm(windowed.windows, axis=1), 1.0, atol=1e-5)
    mean = windowed.windows.mean(axis=0)
    np.testing.assert_allclose(windowed.mean, mean / np.linalg.norm(mean), atol=1e-6)


def test_short_text_is_one_window_equal_to_its_embedding(optimised: MiniLMEmbedder) -> None:
    windowed = optimised.embed_windows(TEXTS[1])
    assert windowed.windows.shape == (1, EMBEDDING_DIM)
    np.testing.assert_allclose(windowed.mean, optimised.embed_one(TEXTS[1]), atol=1e-5)


def test_embed_truncates_past_the_window(reference: MiniLMEmbedder) -> None:
    first_window = reference.embed_windows(LONG_TEXT).windows[0]
    np.testing.assert_allclose(reference.embed_one(LONG_TEXT), first_window, atol=1e-5)


def test_bad_overlap_is_a_config_error(optimised: MiniLMEmbedder) -> None:
    with pytest.raises(ConfigError):
        optimised.embed_windows(LONG_TEXT, overlap=optimised.max_tokens)


def test_missing_weights_are_an_asset_error(tmp_path: Path) -> None:
    with pytest.raises(AssetError):
        MiniLMEmbedder.load("cpu", model_dir=tmp_path)
