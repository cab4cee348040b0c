"""CheXQuery-MedVLM (spec §3): SigLIP → 20 queries → cross-attention → gated fusion → Flan-T5.

Usage:
    model = CheXQueryMedVLM(config)                   # random init; see weights.build_model
    model.set_phase(1)                                # what trains, λ weights (spec §6–7)
    batch = prompter.training_batch(reports)
    out = model(pixel_values, decoder_input_ids=batch.decoder_input_ids,
                labels=batch.labels, aux_targets=mention_targets(mentions))
    out.loss.backward()
    result = model.generate(pixel_values, prompter.prefix(len(pixel_values)), GenerationSettings())
    prompter.decode(result.token_ids), result.aux_probs, result.gate, result.attention_maps
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from state.errors import InputError
from tools.radiology.aux_head import AuxiliaryHead
from tools.radiology.config import CheXQueryConfig
from tools.radiology.cross_attention import QueryCrossAttention
from tools.radiology.decoder import GenerationSettings, ReportDecoder
from tools.radiology.fusion import GatedFusion
from tools.radiology.lora import is_lora_parameter
from tools.radiology.losses import auxiliary_loss, generation_loss
from tools.radiology.phases import PhaseSettings, phase_settings
from tools.radiology.queries import AnatomicalQueries, ConditionQueries
from tools.radiology.vision_encoder import VisionEncoder


@dataclass(frozen=True)
class VisualEncoding:
    """Everything computed from the image before the decoder."""

    visual_tokens: torch.Tensor  # [B, 11, D]: gate·CLS, then 10 pooled queries
    gate: torch.Tensor  # [B, 1]
    aux_logits: torch.Tensor  # [B, 14]
    attentions: torch.Tensor  # [B, layers, 20, N]: each layer's weights over the patches
    attention_maps: torch.Tensor  # [B, 20, rows, cols]: the last layer's, on the patch grid

    @property
    def aux_probs(self) -> torch.Tensor:
        """Per-condition probabilities [B, 14]."""
        return torch.sigmoid(self.aux_logits)


@dataclass(frozen=True)
class CheXQueryOutput:
    """A training forward pass: losses (None without targets) and the visual encoding."""

    loss: torch.Tensor | None
    generation_loss: torch.Tensor | None
    auxiliary_loss: torch.Tensor | None
    logits: torch.Tensor | None  # [B, T, vocab] when decoder inputs were given
    encoding: VisualEncoding


@dataclass(frozen=True)
class GeneratedReports:
    """Generated token ids (after the prompt) and the image-side outputs for the same pass."""

    token_ids: torch.Tensor  # [B, T]
    encoding: VisualEncoding


class CheXQueryMedVLM(nn.Module):
    """The whole model; each box of the spec is a submodule named after it."""

    def __init__(
        self,
        config: CheXQueryConfig,
        vision: VisionEncoder | None = None,
        decoder: ReportDecoder | None = None,
    ) -> None:
        super().__init__()
        self.config = config
        width = config.hidden_size
        self.vision = vision or VisionEncoder.from_config(config)
        self.condition_queries = ConditionQueries(config.num_conditions, width)
        self.anatomical_queries = AnatomicalQueries(config.num_regions, width)
        self.cross_attention = QueryCrossAttention(
            width,
            config.cross_attention_heads,
            config.cross_attention_layers,
            config.ffn_multiplier,
            config.dropout,
        )
        self.fusion = GatedFusion(
            width,
            config.cross_attention_heads,
            config.pooled_queries,
            config.gate_hidden_size,
            config.dropout,
        )
        self.aux_head = AuxiliaryHead(width, config.aux_dropout)
        self.decoder = decoder or ReportDecoder.from_config(config)
        self.phase = self.set_phase(1)

    def encode(self, pixel_values: torch.Tensor) -> VisualEncoding:
        """Images [B, 3, H, W] (normalised to mean 0.5 / std 0.5) to the decoder's inputs."""
        expected = (3, self.config.image_size, self.config.image_size)
        if pixel_values.ndim != 4 or tuple(pixel_values.shape[1:]) != expected:
            raise InputError(
                f"pixel_values must be [B, {', '.join(map(str, expected))}], "
                f"got {list(pixel_values.shape)}"
            )
        features = self.vision(pixel_values.to(self.condition_queries.queries.dtype))
        batch = pixel_values.shape[0]
        queries = torch.cat(
            [self.condition_queries(batch), self.anatomical_queries(batch)], dim=1
        ).to(features.patches.dtype)
        attended = self.cross_attention(queries, features.patches)
        fused = self.fusion(features.cls, attended.queries)
        conditions = attended.queries[:, : self.config.num_conditions]
        rows, cols = self.config.grid_size
        last = attended.attentions[:, -1]
        return VisualEncoding(
            visual_tokens=fused.visual_tokens,
            gate=fused.gate,
            aux_logits=self.aux_head(conditions),
            attentions=attended.attentions,
            attention_maps=last.reshape(batch, last.shape[1], rows, cols),
        )

    def forward(
        self,
        pixel_values: torch.Tensor,
        decoder_input_ids: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        aux_targets: torch.Tensor | None = None,
    ) -> CheXQueryOutput:
        """Encode, decode teacher-forced, and weigh the losses of the current phase (§7.1).

        `labels` need `decoder_input_ids` (see `ReportPrompter.training_batch`); `aux_targets`
        [B, 14] hold 1, 0 or `UNLABELLED` (see `losses.mention_targets`).
        """
        if labels is not None and decoder_input_ids is None:
            raise InputError("labels need decoder_input_ids (ReportPrompter.training_batch)")
        encoding = self.encode(pixel_values)
        logits = None
        gen_loss = aux_loss = None
        if decoder_input_ids is not None:
            logits = self.decoder(encoding.visual_tokens, decoder_input_ids)
            if labels is not None:
                gen_loss = generation_loss(logits, labels, self.phase.label_smoothing)
        if aux_targets is not None:
            aux_loss = auxiliary_loss(encoding.aux_logits, aux_targets.to(encoding.aux_logits))
        terms = [
            weight * value
            for weight, value in (
                (self.phase.lambda_gen, gen_loss),
                (self.phase.lambda_aux, aux_loss),
            )
            if value is not None
        ]
        return CheXQueryOutput(
            loss=torch.stack(terms).sum() if terms else None,
            generation_loss=gen_loss,
            auxiliary_loss=aux_loss,
            logits=logits,
            encoding=encoding,
        )

    @torch.no_grad()
    def generate(
        self,
        pixel_values: torch.Tensor,
        prefix_ids: torch.Tensor,
        settings: GenerationSettings | None = None,
    ) -> GeneratedReports:
        """Beam-search reports from the prompt prefix [B, P] (spec §4.6 defaults)."""
        encoding = self.encode(pixel_values)
        token_ids = self.decoder.generate(
            encoding.visual_tokens, prefix_ids, settings or GenerationSettings()
        )
        return GeneratedReports(token_ids=token_ids, encoding=encoding)

    def set_phase(self, phase: int) -> PhaseSettings:
        """Freeze and unfreeze parts for a training phase (spec §6.1) and use its loss weights.

        Base SigLIP and T5 weights never train; their LoRA adapters train as the phase says.
        Queries, cross-attention and fusion train in every phase; the auxiliary head trains
        while its loss counts.
        """
        settings = phase_settings(phase)
        for module, adapters_train in (
            (self.vision, settings.train_vision_lora),
            (self.decoder, settings.train_decoder_lora),
        ):
            for name, parameter in module.named_parameters():
                parameter.requires_grad_(adapters_train and is_lora_parameter(name))
        for module in (self.condition_queries, self.anatomical_queries):
            module.requires_grad_(True)
        self.cross_attention.requires_grad_(True)
        self.fusion.requires_grad_(True)
        self.aux_head.requires_grad_(settings.train_aux_head)
        self.phase = settings
        return settings

    def parameter_count(self) -> int:
        """All parameters (shared tensors counted once)."""
        return sum(p.numel() for p in self.parameters())

    def trainable_parameter_count(self) -> int:
        """Parameters that the current phase trains."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad)
