"""The Flan-T5 report decoder: T5's encoder is bypassed, the visual tokens are its states (§4.6).

Usage:
    decoder = ReportDecoder.from_config(config)               # or .from_pretrained(path, config)
    logits = decoder(visual_tokens, decoder_input_ids)        # [B, T, vocab]
    new_ids = decoder.generate(visual_tokens, prefix_ids, GenerationSettings())

LoRA (r=16, α=32) adapts q, k, v and o of every decoder attention block, self and cross. The
T5 encoder's weights stay in the module (so a Flan-T5 checkpoint loads as published) but never
run and carry no adapters.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from transformers import T5ForConditionalGeneration
from transformers.modeling_outputs import BaseModelOutput

from state.errors import ConfigError, InputError
from tools.radiology.config import CheXQueryConfig
from tools.radiology.lora import inject_lora

DECODER_SCOPE = r"decoder\.block\.\d+\.layer\.\d+\.(?:SelfAttention|EncDecAttention)"


@dataclass(frozen=True)
class GenerationSettings:
    """Deterministic beam search (spec §4.6); lengths count new tokens after the prompt."""

    num_beams: int = 4
    no_repeat_ngram_size: int = 3
    length_penalty: float = 1.0
    early_stopping: bool = True
    min_new_tokens: int = 20
    max_new_tokens: int = 512

    def __post_init__(self) -> None:
        if self.num_beams < 1:
            raise ConfigError(f"num_beams must be >= 1, got {self.num_beams}")
        if not 0 <= self.min_new_tokens <= self.max_new_tokens:
            raise ConfigError(
                f"need 0 <= min_new_tokens <= max_new_tokens, got "
                f"{self.min_new_tokens} and {self.max_new_tokens}"
            )


def untie_lm_head(t5: T5ForConditionalGeneration) -> None:
    """Give a fresh T5 v1.1-style model (Flan-T5) its own LM head, as the checkpoints have.

    transformers 5 always ties the LM head to the input embedding when it builds T5 from a
    config, and unties it only when a checkpoint holds both. Flan-T5 configs say
    `tie_word_embeddings: false`, which transformers keeps as `scale_decoder_outputs=False`.
    The head starts at std d_model^-0.5 so that random-init logits have unit scale (the
    transformers default of 1.0 makes the first loss ~40 nats instead of ~ln(vocab)).
    """
    if t5.config.scale_decoder_outputs or t5.lm_head.weight is not t5.shared.weight:
        return
    head = torch.empty_like(t5.shared.weight)
    std = float(t5.config.initializer_factor) * float(t5.config.d_model) ** -0.5
    nn.init.normal_(head, mean=0.0, std=std)
    t5.lm_head.weight = nn.Parameter(head)
    t5.all_tied_weights_keys.pop("lm_head.weight", None)


class ReportDecoder(nn.Module):
    """`T5ForConditionalGeneration` whose encoder states are the 11 visual tokens."""

    def __init__(self, t5: T5ForConditionalGeneration, config: CheXQueryConfig) -> None:
        super().__init__()
        if int(t5.config.d_model) != config.hidden_size:
            raise ConfigError(
                f"T5 width {t5.config.d_model} does not match the config's {config.hidden_size}"
            )
        self.t5 = inject_lora(t5, config.decoder_lora, scope=DECODER_SCOPE)
        self.start_token_id = int(t5.config.decoder_start_token_id or 0)

    @classmethod
    def from_config(cls, config: CheXQueryConfig) -> ReportDecoder:
        """A randomly initialised T5 of the config's size (LM head untied for Flan-T5 configs)."""
        t5 = T5ForConditionalGeneration(config.text)
        untie_lm_head(t5)
        return cls(t5, config)

    @classmethod
    def from_pretrained(cls, path: Path, config: CheXQueryConfig) -> ReportDecoder:
        """Pretrained Flan-T5 weights from a local Hugging Face folder (no download)."""
        t5 = T5ForConditionalGeneration.from_pretrained(str(path), local_files_only=True)
        return cls(t5, config)

    @staticmethod
    def _encoder_states(visual_tokens: torch.Tensor) -> tuple[BaseModelOutput, torch.Tensor]:
        mask = torch.ones(visual_tokens.shape[:2], dtype=torch.long, device=visual_tokens.device)
        return BaseModelOutput(last_hidden_state=visual_tokens), mask

    def forward(self, visual_tokens: torch.Tensor, decoder_input_ids: torch.Tensor) -> torch.Tensor:
        """Teacher-forced logits [B, T, vocab] for decoder inputs [B, T]."""
        states, mask = self._encoder_states(visual_tokens)
        output = self.t5(
            encoder_outputs=states,
            attention_mask=mask,
            decoder_input_ids=decoder_input_ids,
            use_cache=False,
        )
        return output.logits

    def generate(
        self,
        visual_tokens: torch.Tensor,
        prefix_ids: torch.Tensor,
        settings: GenerationSettings,
    ) -> torch.Tensor:
        """Beam-search continuations of `prefix_ids` [B, P]; returns only the new tokens [B, T].

        The prefix must start with the decoder start token; finished beams are padded.
        """
        if prefix_ids.ndim != 2 or prefix_ids.shape[0] != visual_tokens.shape[0]:
            raise InputError(
                f"prefix ids {tuple(prefix_ids.shape)} do not match a batch of "
                f"{visual_tokens.shape[0]} images"
            )
        if not bool((prefix_ids[:, 0] == self.start_token_id).all()):
            raise InputError(f"prefix ids must start with the start token {self.start_token_id}")
        states, mask = self._encoder_states(visual_tokens)
        sequences = self.t5.generate(
            encoder_outputs=states,
            attention_mask=mask,
            decoder_input_ids=prefix_ids,
            num_beams=settings.num_beams,
            no_repeat_ngram_size=settings.no_repeat_ngram_size,
            length_penalty=settings.length_penalty,
            early_stopping=settings.early_stopping,
            min_new_tokens=settings.min_new_tokens,
            max_new_tokens=settings.max_new_tokens,
            do_sample=False,
        )
        return sequences[:, prefix_ids.shape[1] :]
