"""The on-disk int8 weight cache: reused when its manifest matches, rebuilt when stale, atomic."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from tools.llm import int8_cache
from tools.llm.engine import LocalLLM
from tools.llm.gguf_weights import WEIGHTS_FILE, weights_dir
from tools.llm.int8 import Int8Linear, quantize_rows, split_rows


@pytest.fixture
def fake_checkpoint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """A tiny source checkpoint whose 'quantisation' is counted; returns the call counter."""
    save_file({"w": torch.ones(2, 2)}, str(tmp_path / WEIGHTS_FILE))
    calls: list[int] = []

    def quantize(_: Path) -> dict[str, torch.Tensor]:
        calls.append(1)
        return {
            "layers.0.proj": quantize_rows(torch.randn(8, 4)),
            int8_cache.HEAD: quantize_rows(torch.randn(16, 4)),
        }

    monkeypatch.setattr(int8_cache, "quantize_checkpoint", quantize)
    return calls


def _same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(
        all(torch.equal(x, y) for x, y in zip(split_rows(a[k]), split_rows(b[k]), strict=True))
        for k in a
    )


def test_cache_is_written_once_then_read(tmp_path: Path, fake_checkpoint: list[int]):
    first = int8_cache.int8_weights(tmp_path)
    assert int8_cache.cached_manifest(tmp_path) == int8_cache.manifest(tmp_path)
    second = int8_cache.int8_weights(tmp_path)
    assert len(fake_checkpoint) == 1
    assert _same(first, second)
    assert sorted(p.name for p in tmp_path.iterdir()) == [int8_cache.CACHE_FILE, WEIGHTS_FILE]


def test_changed_source_or_torch_version_rebuilds_the_cache(
    tmp_path: Path, fake_checkpoint: list[int], monkeypatch: pytest.MonkeyPatch
):
    int8_cache.int8_weights(tmp_path)
    source = tmp_path / WEIGHTS_FILE
    stat = source.stat()
    os.utime(source, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    int8_cache.int8_weights(tmp_path)
    monkeypatch.setattr(torch, "__version__", "0.0.0-other")
    int8_cache.int8_weights(tmp_path)
    assert len(fake_checkpoint) == 3
    assert int8_cache.cached_manifest(tmp_path)["torch"] == "0.0.0-other"


def test_failed_cache_write_leaves_no_file(
    tmp_path: Path, fake_checkpoint: list[int], monkeypatch: pytest.MonkeyPatch
):
    def crash(_: object, path: str, metadata: dict[str, str]) -> None:
        Path(path).write_bytes(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(int8_cache, "save_file", crash)
    with pytest.raises(OSError, match="disk full"):
        int8_cache.int8_weights(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [WEIGHTS_FILE]


def test_real_cache_is_used_and_matches_a_fresh_quantisation(
    local_llm: LocalLLM, llm_cache_dir: Path, monkeypatch: pytest.MonkeyPatch
):
    target = weights_dir(llm_cache_dir)
    assert int8_cache.cached_manifest(target) == int8_cache.manifest(target)
    fresh = int8_cache.quantize_checkpoint(target)

    def fail(_: Path) -> dict[str, torch.Tensor]:
        raise AssertionError("quantised again despite a valid cache")

    monkeypatch.setattr(int8_cache, "quantize_checkpoint", fail)
    cached = int8_cache.int8_weights(target)
    assert _same(cached, fresh)
    hidden = torch.randn(1, local_llm.decoder.config.hidden_size)
    got = Int8Linear(cached[int8_cache.HEAD]).forward(hidden)
    assert torch.equal(got, Int8Linear(fresh[int8_cache.HEAD]).forward(hidden))
    assert torch.equal(got, local_llm.head.logits(hidden)[None])
