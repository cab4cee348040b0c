"""The 14 condition queries (from text embeddings of the condition names) and 6 anatomical queries.

Usage:
    conditions = ConditionQueries(14, 768)
    conditions.init_from_text(condition_name_vectors(MiniLMEmbedder.load("cpu")), seed=0)
    regions = AnatomicalQueries(6, 768)                        # Xavier uniform (spec §4.3)
    queries = torch.cat([conditions(batch), regions(batch)], dim=1)   # [B, 20, 768]

Spec §4.2 takes each query from BioBERT's CLS embedding of the condition name. BioBERT is
not available offline, so `BioBertEmbedder` is used when a local folder exists, and otherwise
the offline MiniLM embedder. Either way the name vectors pass through a fixed, seeded random
projection when their width differs from the model's (identity when equal), and are rescaled to
the Xavier scale of the anatomical queries so both query sets start at the same magnitude.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np
import torch
from torch import nn
from transformers import AutoModel, AutoTokenizer

from state.errors import AssetError, ConfigError
from tools.radiology.conditions import CONDITIONS


class TextEmbedder(Protocol):
    """Anything that turns texts into one vector each (`MiniLMEmbedder` fits)."""

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """[n, width] float vectors."""
        ...


class BioBertEmbedder:
    """BioBERT's CLS vector of a text (spec §4.2), from a local Hugging Face folder."""

    def __init__(self, path: Path) -> None:
        if not (path / "config.json").is_file():
            raise AssetError(f"no BioBERT model under {path} (config.json missing)")
        self._tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
        self._model = AutoModel.from_pretrained(str(path), local_files_only=True).eval()

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """The last layer's CLS vector of each text: [n, 768]."""
        batch = self._tokenizer(list(texts), padding=True, return_tensors="pt")
        with torch.inference_mode():
            hidden = self._model(**batch).last_hidden_state
        return hidden[:, 0].float().numpy()


def condition_name_vectors(
    embedder: TextEmbedder, names: Sequence[str] = CONDITIONS
) -> torch.Tensor:
    """One text vector per condition name (lower-cased, as a phrase): [14, width]."""
    vectors = np.asarray(embedder.embed([name.lower() for name in names]), dtype=np.float32)
    if vectors.ndim != 2 or vectors.shape[0] != len(names):
        raise AssetError(f"the embedder returned shape {vectors.shape} for {len(names)} names")
    return torch.from_numpy(vectors)


def xavier_std(rows: int, cols: int) -> float:
    """Standard deviation of Xavier-uniform initialisation for a [rows, cols] matrix."""
    return math.sqrt(2.0 / (rows + cols))


def project_name_vectors(vectors: torch.Tensor, width: int, seed: int) -> torch.Tensor:
    """Map [n, in] text vectors to [n, width] query vectors at Xavier scale, deterministically.

    Widths that differ go through a fixed Gaussian projection drawn from `seed` (so the same
    names and seed always give the same queries); each row is centred and scaled to the
    Xavier standard deviation of an [n, width] matrix, keeping its direction (its meaning).
    """
    vectors = vectors.detach().to(dtype=torch.float32, device="cpu")
    if vectors.ndim != 2:
        raise ConfigError(f"name vectors must be [n, width], got {tuple(vectors.shape)}")
    rows, width_in = vectors.shape
    if width_in != width:
        generator = torch.Generator().manual_seed(seed)
        projection = torch.randn(width_in, width, generator=generator) / math.sqrt(width_in)
        vectors = vectors @ projection
    centred = vectors - vectors.mean(dim=1, keepdim=True)
    scale = centred.std(dim=1, keepdim=True).clamp(min=1e-8)
    return centred / scale * xavier_std(rows, width)


class ConditionQueries(nn.Module):
    """14 learnable condition queries, one per CheXpert condition (spec §4.2)."""

    def __init__(self, count: int, width: int) -> None:
        super().__init__()
        self.queries = nn.Parameter(torch.empty(count, width))
        nn.init.xavier_uniform_(self.queries)

    def init_from_text(self, name_vectors: torch.Tensor, seed: int) -> None:
        """Set the queries from text vectors of the condition names ([count, any width])."""
        if name_vectors.shape[0] != self.queries.shape[0]:
            raise ConfigError(
                f"{name_vectors.shape[0]} name vectors for {self.queries.shape[0]} queries"
            )
        init = project_name_vectors(name_vectors, self.queries.shape[1], seed)
        with torch.no_grad():
            self.queries.copy_(init.to(self.queries.device, self.queries.dtype))

    def forward(self, batch_size: int) -> torch.Tensor:
        """The queries repeated over the batch: [B, count, width]."""
        return self.queries.unsqueeze(0).expand(batch_size, -1, -1)


class AnatomicalQueries(nn.Module):
    """6 learnable anatomical region queries, Xavier-uniform initialised (spec §4.3)."""

    def __init__(self, count: int, width: int) -> None:
        super().__init__()
        self.queries = nn.Parameter(torch.empty(count, width))
        nn.init.xavier_uniform_(self.queries)

    def forward(self, batch_size: int) -> torch.Tensor:
        """The queries repeated over the batch: [B, count, width]."""
        return self.queries.unsqueeze(0).expand(batch_size, -1, -1)
