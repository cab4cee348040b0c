"""Report one radiograph with a loaded checkpoint: read the image, beam-search, build the report.

Decoding follows spec §4.6: beam search with 4 beams, no repeated trigram, length penalty 1.0,
early stopping, 20 to 512 new tokens after the prompt prefix. Images (PNG, JPEG, DICOM) are
read by `image_io` (every bad input is an `InputError`), fitted into the config's square and
normalised by the eval transform. On a GPU the model runs in bf16 (fp16 where bf16 is absent).

Usage:
    engine = RadiologyInference.load(Path("checkpoints/demo"), torch.device("cpu"))
    report = engine.run(Path("cxr.png"), heatmap_root=Path("out/heatmaps"))
    prepared = [engine.prepare(p) for p in paths]             # one batch, one generate call
    reports = [engine.report(i, p, root) for i, p in zip(prepared, engine.predict(prepared))]
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from state.errors import InputError
from tools.models.registry import preferred_dtype
from tools.radiology.augment import EvalTransform
from tools.radiology.conditions import CONDITIONS
from tools.radiology.decoder import GenerationSettings
from tools.radiology.heatmaps import write_overlays
from tools.radiology.image_io import fit_square, read_image
from tools.radiology.report_schema import RadiologyReport, split_sections
from tools.radiology.weights import RadiologyModel, load_checkpoint


@dataclass(frozen=True)
class PreparedImage:
    """An image as the model sees it: the fitted square in [0, 1] and the normalised tensor."""

    image: np.ndarray  # [S, S] float32 in [0, 1]
    pixels: torch.Tensor  # [3, S, S], mean 0.5 / std 0.5
    digest: str  # SHA-256 of `image`

    @property
    def short_id(self) -> str:
        """A short, content-derived name for the image's output folder."""
        return self.digest[:16]


@dataclass(frozen=True)
class Prediction:
    """What one image's generate pass produced, on the CPU."""

    text: str
    aux_probs: np.ndarray  # [14]
    gate: float
    attention_maps: np.ndarray  # [20, rows, cols]


class RadiologyInference:
    """A loaded checkpoint that turns images into `RadiologyReport`s."""

    def __init__(
        self,
        bundle: RadiologyModel,
        device: torch.device,
        generation: GenerationSettings | None = None,
    ) -> None:
        self.bundle = bundle
        self.device = device
        self.generation = generation or GenerationSettings()
        self.dtype = next(bundle.model.parameters()).dtype
        self.image_size = bundle.model.config.image_size
        self._transform = EvalTransform(self.image_size)

    @classmethod
    def load(
        cls, path: Path, device: torch.device, generation: GenerationSettings | None = None
    ) -> RadiologyInference:
        """Load a checkpoint on `device`, in bf16/fp16 on a GPU and fp32 on the CPU."""
        bundle = load_checkpoint(path, device)
        bundle.model.to(dtype=preferred_dtype(device))
        return cls(bundle, device, generation)

    @property
    def model_id(self) -> str:
        """The checkpoint's model id (from its card)."""
        return self.bundle.card.model_id

    def prepare(self, path: Path) -> PreparedImage:
        """Read, fit and normalise one image file; bad input raises `InputError`."""
        image = fit_square(read_image(path), self.image_size)
        return PreparedImage(
            image=image,
            pixels=self._transform(image),
            digest=hashlib.sha256(np.ascontiguousarray(image).tobytes()).hexdigest(),
        )

    @torch.no_grad()
    def predict(self, images: Sequence[PreparedImage]) -> list[Prediction]:
        """One batched beam search over `images`; results in the same order."""
        if not images:
            raise InputError("no images to report")
        pixels = torch.stack([i.pixels for i in images]).to(self.device, self.dtype)
        prompter = self.bundle.prompter
        result = self.bundle.model.generate(
            pixels, prompter.prefix(len(images), self.device), self.generation
        )
        texts = prompter.decode(result.token_ids.cpu())
        encoding = result.encoding
        probs = encoding.aux_probs.float().cpu().numpy()
        gates = encoding.gate.float().cpu().numpy()[:, 0]
        maps = encoding.attention_maps.float().cpu().numpy()
        return [
            Prediction(text=t, aux_probs=p, gate=float(g), attention_maps=m)
            for t, p, g, m in zip(texts, probs, gates, maps, strict=True)
        ]

    def report(
        self, image: PreparedImage, prediction: Prediction, heatmap_root: Path
    ) -> RadiologyReport:
        """The report of one prediction; its overlays go to `heatmap_root/<image>-<model>/`."""
        findings, impression = split_sections(prediction.text)
        card = self.bundle.card
        folder = heatmap_root / f"{image.short_id}-{card.model_id}"
        return RadiologyReport(
            findings=findings,
            impression=impression,
            text=prediction.text,
            aux_probabilities={
                name: float(p) for name, p in zip(CONDITIONS, prediction.aux_probs, strict=True)
            },
            gate=min(1.0, max(0.0, prediction.gate)),
            attention_maps=write_overlays(image.image, prediction.attention_maps, folder),
            model_id=card.model_id,
            pretrained=card.pretrained,
            phantom_trained=card.phantom_trained,
            image_digest=image.digest,
        )

    def run(self, path: Path, heatmap_root: Path) -> RadiologyReport:
        """Report one image file (no batching; see `RadiologyService` for that)."""
        prepared = self.prepare(path)
        return self.report(prepared, self.predict([prepared])[0], heatmap_root)
