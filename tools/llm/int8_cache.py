"""Cache the int8 weights of the converted checkpoint on disk so later loads skip quantisation.

The cache is one safetensors file next to the checkpoint, written atomically (temp + rename); its
metadata is the manifest that must match for reuse: cache format, torch version, and the source
checkpoint's size, mtime and header hash. A stale or unreadable cache is rebuilt.

Usage:
    weights = int8_weights(weights_dir)      # {"layers.0.mlp.down_proj": qint8, ..., HEAD: qint8}
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file
from torch import nn

from tools.llm.gemma3 import Gemma3Decoder
from tools.llm.gguf_weights import WEIGHTS_FILE
from tools.llm.int8 import join_rows, quantize_rows, split_rows

CACHE_FILE = "int8-weights.safetensors"
INT8_FORMAT = "1"
HEAD = "lm_head"


def manifest(weights_dir: Path) -> dict[str, str]:
    """What the cached int8 weights were made from; a cache is reused only when this matches."""
    source = weights_dir / WEIGHTS_FILE
    stat = source.stat()
    with source.open("rb") as handle:
        header_size = int.from_bytes(handle.read(8), "little")
        header_hash = hashlib.sha256(handle.read(header_size)).hexdigest()
    return {
        "format": INT8_FORMAT,
        "torch": torch.__version__,
        "source_size": str(stat.st_size),
        "source_mtime_ns": str(stat.st_mtime_ns),
        "source_header_sha256": header_hash,
    }


def cached_manifest(weights_dir: Path) -> dict[str, str] | None:
    """The manifest stored in the cache file, or None when there is no readable cache."""
    path = weights_dir / CACHE_FILE
    if not path.is_file():
        return None
    try:
        with safe_open(str(path), framework="pt") as handle:
            return handle.metadata()
    except (OSError, SafetensorError):
        return None


def int8_weights(weights_dir: Path) -> dict[str, torch.Tensor]:
    """Per-channel qint8 weights of every decoder linear and of the tied LM head (`HEAD`).

    Read from the cache when its manifest matches; otherwise quantised now and cached.
    """
    wanted = manifest(weights_dir)
    if cached_manifest(weights_dir) == wanted:
        return _read(weights_dir / CACHE_FILE)
    weights = quantize_checkpoint(weights_dir)
    _write(weights_dir, weights, wanted)
    return weights


def quantize_checkpoint(weights_dir: Path) -> dict[str, torch.Tensor]:
    """Quantise the fp32 checkpoint's linear layers and tied LM head to per-channel qint8."""
    decoder = Gemma3Decoder.from_checkpoint(weights_dir)
    weights = {
        name: quantize_rows(module.weight)
        for name, module in decoder.layers.named_modules(prefix="layers")
        if isinstance(module, nn.Linear)
    }
    weights[HEAD] = quantize_rows(decoder.embed_tokens.weight)
    return weights


def _read(path: Path) -> dict[str, torch.Tensor]:
    with safe_open(str(path), framework="pt") as handle:
        stored: list[str] = handle.keys()
        names = {key.rsplit(".", 1)[0] for key in stored}
        return {
            name: join_rows(handle.get_tensor(f"{name}.int8"), handle.get_tensor(f"{name}.scale"))
            for name in sorted(names)
        }


def _write(weights_dir: Path, weights: dict[str, torch.Tensor], stamp: dict[str, str]) -> None:
    tensors: dict[str, torch.Tensor] = {}
    for name, weight in weights.items():
        tensors[f"{name}.int8"], tensors[f"{name}.scale"] = split_rows(weight)
    handle, temp = tempfile.mkstemp(prefix=f".{CACHE_FILE}-", dir=weights_dir)
    os.close(handle)
    try:
        save_file(tensors, temp, metadata=stamp)
        os.chmod(temp, 0o644)
        os.replace(temp, weights_dir / CACHE_FILE)
    finally:
        if os.path.exists(temp):
            os.remove(temp)
