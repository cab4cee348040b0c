"""The three training phases of spec §6–7: what trains, loss weights and optimiser schedule.

Usage:
    settings = PHASES[2]
    settings.learning_rate, settings.warmup_steps, settings.accumulation_steps   # 5e-5, 500, 4
    model.set_phase(2)       # freezes and unfreezes the model's parts to match
"""

from __future__ import annotations

from dataclasses import dataclass

from state.errors import ConfigError


@dataclass(frozen=True)
class PhaseSettings:
    """One phase: trainable parts, loss weights (§7.4) and optimiser hyper-parameters (§6.1)."""

    phase: int
    train_vision_lora: bool
    train_decoder_lora: bool
    train_aux_head: bool
    lambda_gen: float
    lambda_aux: float
    label_smoothing: float
    learning_rate: float
    warmup_steps: int
    batch_size: int
    effective_batch_size: int
    epochs: int
    vision_fully_frozen: bool = False
    """Phase 3: SigLIP stays frozen even in from-scratch mode (spec: "fully frozen")."""

    @property
    def accumulation_steps(self) -> int:
        """Micro-batches per optimiser step to reach the effective batch."""
        return max(1, self.effective_batch_size // self.batch_size)


PHASES: dict[int, PhaseSettings] = {
    # Phase 1, query alignment: SigLIP and Flan-T5 frozen (their adapters too).
    1: PhaseSettings(
        phase=1,
        train_vision_lora=False,
        train_decoder_lora=False,
        train_aux_head=True,
        lambda_gen=1.0,
        lambda_aux=0.5,
        label_smoothing=0.0,
        learning_rate=1e-4,
        warmup_steps=200,
        batch_size=16,
        effective_batch_size=32,
        epochs=5,
    ),
    # Phase 2, end to end: LoRA on both backbones, label smoothing 0.1.
    2: PhaseSettings(
        phase=2,
        train_vision_lora=True,
        train_decoder_lora=True,
        train_aux_head=True,
        lambda_gen=1.0,
        lambda_aux=0.3,
        label_smoothing=0.1,
        learning_rate=5e-5,
        warmup_steps=500,
        batch_size=8,
        effective_batch_size=32,
        epochs=15,
    ),
    # Phase 3 (optional), generation polish: auxiliary loss off, vision fully frozen.
    3: PhaseSettings(
        phase=3,
        train_vision_lora=False,
        train_decoder_lora=True,
        train_aux_head=False,
        lambda_gen=1.0,
        lambda_aux=0.0,
        label_smoothing=0.1,
        learning_rate=2e-5,
        warmup_steps=0,
        batch_size=8,
        effective_batch_size=32,
        epochs=5,
        vision_fully_frozen=True,
    ),
}


def phase_settings(phase: int) -> PhaseSettings:
    """The settings of phase 1, 2 or 3."""
    if phase not in PHASES:
        raise ConfigError(f"training phase must be 1, 2 or 3, got {phase}")
    return PHASES[phase]
