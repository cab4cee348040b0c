"""Prompt-guided decoding (spec §4.6): decoder ids for prompt + report, and text from new ids.

Usage:
    prompter = ReportPrompter(tokenizer, config.prompt, max_target_tokens=512)
    batch = prompter.training_batch(["Findings: Heart size normal. | Impression: Normal."])
    batch.decoder_input_ids, batch.labels      # labels are −100 on the prompt and padding
    prefix = prompter.prefix(batch_size=2)      # [start] + prompt, for generate()
    texts = prompter.decode(new_ids)

Training sequence: `[start] prompt report </s>`; the model learns only the report and `</s>`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from transformers import PreTrainedTokenizerBase

from state.errors import ConfigError, InputError
from tools.radiology.losses import IGNORE_INDEX


@dataclass(frozen=True)
class DecoderBatch:
    """Teacher-forcing inputs and shifted labels, right-padded to the longest report."""

    decoder_input_ids: torch.Tensor  # [B, T]
    labels: torch.Tensor  # [B, T]


class ReportPrompter:
    """Tokenises the prompt and reports the same way for training and generation."""

    def __init__(
        self,
        tokenizer: PreTrainedTokenizerBase,
        prompt: str,
        max_target_tokens: int = 512,
        start_token_id: int = 0,
    ) -> None:
        if tokenizer.pad_token_id is None or tokenizer.eos_token_id is None:
            raise ConfigError("the report tokenizer needs pad and eos tokens")
        if max_target_tokens < 2:
            raise ConfigError(f"max_target_tokens must be >= 2, got {max_target_tokens}")
        self.tokenizer = tokenizer
        self.pad_id = int(tokenizer.pad_token_id)
        self.eos_id = int(tokenizer.eos_token_id)
        self.start_id = start_token_id
        self.max_target_tokens = max_target_tokens
        self.prompt_ids: list[int] = [start_token_id, *self._ids(prompt)]

    def _ids(self, text: str) -> list[int]:
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def prefix(self, batch_size: int, device: torch.device | str = "cpu") -> torch.Tensor:
        """`[start] + prompt` for every image in a batch: [B, P]."""
        return torch.tensor([self.prompt_ids] * batch_size, dtype=torch.long, device=device)

    def training_batch(self, reports: Sequence[str]) -> DecoderBatch:
        """Decoder inputs and labels for target reports (each cut to `max_target_tokens`)."""
        if not reports:
            raise InputError("no reports to encode")
        sequences: list[list[int]] = []
        for report in reports:
            body = self._ids(report)[: self.max_target_tokens - 1]
            sequences.append([*self.prompt_ids, *body, self.eos_id])
        width = max(len(sequence) for sequence in sequences) - 1
        inputs = torch.full((len(sequences), width), self.pad_id, dtype=torch.long)
        labels = torch.full((len(sequences), width), IGNORE_INDEX, dtype=torch.long)
        learned_from = len(self.prompt_ids) - 1  # the first position that predicts the report
        for row, sequence in enumerate(sequences):
            length = len(sequence) - 1
            inputs[row, :length] = torch.tensor(sequence[:-1])
            labels[row, learned_from:length] = torch.tensor(sequence[learned_from + 1 :])
        return DecoderBatch(decoder_input_ids=inputs, labels=labels)

    def decode(self, new_ids: torch.Tensor) -> list[str]:
        """Generated ids after the prompt [B, T] to text, special tokens dropped."""
        return [
            self.tokenizer.decode(row.tolist(), skip_special_tokens=True).strip() for row in new_ids
        ]
