"""The SigLIP vision encoder with LoRA on q_proj/v_proj: a CLS (pooled) token and patch tokens.

Usage:
    encoder = VisionEncoder.from_config(config)            # random init, same architecture
    encoder = VisionEncoder.from_pretrained(path, config)  # a local SigLIP folder
    features = encoder(pixel_values)                       # [B, 3, 384, 384]
    features.cls, features.patches                        # [B, 768], [B, 576, 768]

SigLIP has no CLS token in its sequence; its attention-pooling head plays that role, so the
pooled output is the spec's "CLS" and the post-norm sequence is the patch tokens.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from transformers import SiglipVisionModel

from state.errors import ConfigError
from tools.radiology.config import CheXQueryConfig
from tools.radiology.lora import inject_lora


@dataclass(frozen=True)
class VisionFeatures:
    """SigLIP outputs for a batch: the pooled token and the patch tokens."""

    cls: torch.Tensor  # [B, D]
    patches: torch.Tensor  # [B, N, D]


class VisionEncoder(nn.Module):
    """SigLIP (`SiglipVisionModel`) with LoRA adapters injected into its attention projections."""

    def __init__(self, siglip: SiglipVisionModel, config: CheXQueryConfig) -> None:
        super().__init__()
        if int(siglip.config.hidden_size) != config.hidden_size:
            raise ConfigError(
                f"SigLIP width {siglip.config.hidden_size} does not match the config's "
                f"{config.hidden_size}"
            )
        self.siglip = inject_lora(siglip, config.vision_lora)

    @classmethod
    def from_config(cls, config: CheXQueryConfig) -> VisionEncoder:
        """A randomly initialised SigLIP of the config's size."""
        return cls(SiglipVisionModel(config.vision), config)

    @classmethod
    def from_pretrained(cls, path: Path, config: CheXQueryConfig) -> VisionEncoder:
        """Pretrained SigLIP weights from a local Hugging Face folder (no download)."""
        return cls(SiglipVisionModel.from_pretrained(str(path), local_files_only=True), config)

    def forward(self, pixel_values: torch.Tensor) -> VisionFeatures:
        """Normalised images [B, 3, H, W] to the pooled token and the patch tokens."""
        output = self.siglip(pixel_values=pixel_values)
        return VisionFeatures(cls=output.pooler_output, patches=output.last_hidden_state)
