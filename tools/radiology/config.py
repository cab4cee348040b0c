"""The sizes of every CheXQuery-MedVLM box (spec §3–4, §10), with `full` and `tiny` presets.

Usage:
    config = CheXQueryConfig.full()                 # SigLIP base patch16 384 + Flan-T5-base
    config = CheXQueryConfig.tiny(vocab_size=1913)  # 128 px, 128-d: CPU tests and the demo
    config.grid_size                                # (24, 24) patches for `full`
    again = CheXQueryConfig.from_dict(config.to_dict())

The vision and text parts are transformers' own `SiglipVisionConfig` and `T5Config`, so a
pretrained SigLIP or Flan-T5 folder supplies them unchanged (`with_parts`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from transformers import SiglipVisionConfig, T5Config

from state.errors import ConfigError
from tools.radiology.conditions import CONDITIONS, REGIONS

DEFAULT_PROMPT = "Write the findings and impression of this chest radiograph:"
"""Decoder prompt (spec §4.6). It shares no token trigram with the `Findings: … | Impression: …`
skeleton, so trigram blocking during beam search cannot forbid the report's own structure."""


@dataclass(frozen=True)
class LoraSettings:
    """One LoRA adapter: rank, alpha, dropout and the names of the linear layers it adapts."""

    rank: int
    alpha: int
    dropout: float
    targets: tuple[str, ...]


VISION_LORA = LoraSettings(rank=8, alpha=16, dropout=0.05, targets=("q_proj", "v_proj"))
DECODER_LORA = LoraSettings(rank=16, alpha=32, dropout=0.05, targets=("q", "k", "v", "o"))


def siglip_base_patch16_384() -> SiglipVisionConfig:
    """The vision tower of google/siglip-base-patch16-384: 768-d, 12 layers, 576 patches."""
    return SiglipVisionConfig(
        hidden_size=768,
        intermediate_size=3072,
        num_hidden_layers=12,
        num_attention_heads=12,
        image_size=384,
        patch_size=16,
        hidden_act="gelu_pytorch_tanh",
        layer_norm_eps=1e-6,
    )


def flan_t5_base(vocab_size: int = 32128) -> T5Config:
    """google/flan-t5-base: 768-d, 12 + 12 layers, gated-GELU, untied LM head."""
    return T5Config(
        vocab_size=vocab_size,
        d_model=768,
        d_kv=64,
        d_ff=2048,
        num_layers=12,
        num_decoder_layers=12,
        num_heads=12,
        feed_forward_proj="gated-gelu",
        tie_word_embeddings=False,
        decoder_start_token_id=0,
        pad_token_id=0,
        eos_token_id=1,
    )


@dataclass(frozen=True, eq=False)
class CheXQueryConfig:
    """Architecture hyper-parameters; the vision and text configs are transformers' own."""

    name: str
    vision: SiglipVisionConfig
    text: T5Config
    num_conditions: int = len(CONDITIONS)
    num_regions: int = len(REGIONS)
    cross_attention_layers: int = 2
    cross_attention_heads: int = 8
    ffn_multiplier: int = 4
    pooled_queries: int = 10
    dropout: float = 0.1
    aux_dropout: float = 0.2
    gate_hidden_divisor: int = 4
    vision_lora: LoraSettings = VISION_LORA
    decoder_lora: LoraSettings = DECODER_LORA
    prompt: str = DEFAULT_PROMPT
    max_target_tokens: int = 512
    query_init_seed: int = 0

    def __post_init__(self) -> None:
        hidden = self.vision.hidden_size
        if self.text.d_model != hidden:
            raise ConfigError(
                f"the vision width ({hidden}) and the T5 width ({self.text.d_model}) must match: "
                "the visual tokens are the decoder's encoder states (spec §4.6)"
            )
        if hidden % self.cross_attention_heads:
            raise ConfigError(
                f"hidden size {hidden} is not divisible by {self.cross_attention_heads} heads"
            )
        if self.vision.image_size % self.vision.patch_size:
            raise ConfigError(
                f"image size {self.vision.image_size} is not a multiple of the patch size "
                f"{self.vision.patch_size}"
            )
        if not self.vision.vision_use_head:
            raise ConfigError("SigLIP must keep its attention-pooling head: it gives the CLS token")
        if self.text.num_decoder_layers != self.text.num_layers:
            # transformers sizes the generation cache by the encoder depth for T5.
            raise ConfigError(
                "the T5 encoder and decoder must have the same number of layers "
                f"({self.text.num_layers} != {self.text.num_decoder_layers})"
            )
        if min(self.num_conditions, self.num_regions, self.pooled_queries) < 1:
            raise ConfigError("query counts must be positive")

    @property
    def hidden_size(self) -> int:
        """Width of patches, queries and visual tokens (one width end to end, as in the spec)."""
        return int(self.vision.hidden_size)

    @property
    def image_size(self) -> int:
        """Side of the square input image in pixels."""
        return int(self.vision.image_size)

    @property
    def grid_size(self) -> tuple[int, int]:
        """Patch grid (rows, columns) that attention maps are laid out on."""
        side = self.image_size // int(self.vision.patch_size)
        return side, side

    @property
    def num_patches(self) -> int:
        """Number of patch tokens (576 for the full config)."""
        rows, cols = self.grid_size
        return rows * cols

    @property
    def num_queries(self) -> int:
        """Condition plus anatomical queries (20)."""
        return self.num_conditions + self.num_regions

    @property
    def num_visual_tokens(self) -> int:
        """Tokens the decoder attends to: the gated CLS plus the pooled queries (11)."""
        return 1 + self.pooled_queries

    @property
    def gate_hidden_size(self) -> int:
        """Width of the fusion gate's hidden layer."""
        return max(1, self.hidden_size // self.gate_hidden_divisor)

    @classmethod
    def full(cls, vocab_size: int = 32128) -> CheXQueryConfig:
        """Spec sizes: SigLIP base patch16 384 (576 patches, 768-d) and Flan-T5-base."""
        return cls(name="full", vision=siglip_base_patch16_384(), text=flan_t5_base(vocab_size))

    @classmethod
    def tiny(cls, vocab_size: int = 2000) -> CheXQueryConfig:
        """CPU size for tests and the demo: 128 px (8×8 patches of 16), 128-d, 2 layers."""
        vision = SiglipVisionConfig(
            hidden_size=128,
            intermediate_size=512,
            num_hidden_layers=2,
            num_attention_heads=4,
            image_size=128,
            patch_size=16,
            hidden_act="gelu_pytorch_tanh",
            layer_norm_eps=1e-6,
        )
        text = T5Config(
            vocab_size=vocab_size,
            d_model=128,
            d_kv=32,
            d_ff=512,
            num_layers=2,
            num_decoder_layers=2,
            num_heads=4,
            feed_forward_proj="gated-gelu",
            tie_word_embeddings=False,
            decoder_start_token_id=0,
            pad_token_id=0,
            eos_token_id=1,
        )
        return cls(name="tiny", vision=vision, text=text)

    @classmethod
    def preset(cls, name: str, vocab_size: int) -> CheXQueryConfig:
        """The `full` or `tiny` preset with the tokenizer's vocabulary size."""
        if name == "full":
            return cls.full(vocab_size)
        if name == "tiny":
            return cls.tiny(vocab_size)
        raise ConfigError(f"unknown radiology model config {name!r}: use 'full' or 'tiny'")

    def with_parts(
        self, vision: SiglipVisionConfig | None = None, text: T5Config | None = None
    ) -> CheXQueryConfig:
        """This config with a pretrained checkpoint's vision and/or text config."""
        return replace(self, vision=vision or self.vision, text=text or self.text)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict that `from_dict` turns back into an equal config."""
        data: dict[str, Any] = {f.name: getattr(self, f.name) for f in fields(self)}
        data["vision"] = self.vision.to_dict()
        data["text"] = self.text.to_dict()
        data["vision_lora"] = asdict(self.vision_lora)
        data["decoder_lora"] = asdict(self.decoder_lora)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CheXQueryConfig:
        """Rebuild a config written by `to_dict`."""
        try:
            values = dict(data)
            values["vision"] = SiglipVisionConfig.from_dict(values["vision"])
            values["text"] = T5Config.from_dict(values["text"])
            for key in ("vision_lora", "decoder_lora"):
                lora = dict(values[key])
                values[key] = LoraSettings(**{**lora, "targets": tuple(lora["targets"])})
            return cls(**values)
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"not a CheXQuery config: {exc}") from exc
