"""Settings of one training run (phase, data, optimiser, checkpoints) and the CPU demo recipe.

Usage:
    config = TrainConfig(phase=2)                # spec §6 phase 2 as written
    plan = config.plan(model.set_phase(2), pool_size=1500)
    plan.micro_batch, plan.accumulation, plan.learning_rate, plan.total_steps
    demo = demo_config()                         # tiny, from scratch, ~13 min on 2 CPU cores
    factor = warmup_cosine(plan, min_ratio=0.1)  # LR multiplier per step, for LambdaLR

A field left at None takes the phase's value (spec §6.1): batch sizes, learning rate, warm-up and
the number of epochs over the training pool.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any

from state.errors import ConfigError
from tools.radiology.dataset import PoolConfig
from tools.radiology.phases import PhaseSettings, phase_settings


@dataclass(frozen=True)
class TrainConfig:
    """One training run.

    `train_backbones` trains the SigLIP and T5 base weights fully (their LoRA adapters stay at
    their zero start). It is for models without pretrained weights: a randomly initialised
    backbone that stays frozen (phase 1) or only gets LoRA (phase 2) cannot learn to see or
    to write, so from-scratch training must train it whole.
    """

    phase: int = 1
    preset: str = "tiny"
    train_backbones: bool = False
    steps: int | None = None
    micro_batch: int | None = None
    effective_batch: int | None = None
    learning_rate: float | None = None
    warmup_steps: int | None = None
    min_lr_ratio: float = 0.1
    weight_decay: float = 0.01
    grad_clip: float = 1.0
    checkpoint_every: int = 200
    seed: int = 0
    train_pool_size: int = 2000
    pool_seed: int = 0
    reports_per_set: int | None = 4
    min_words: int = 12
    temper: float = 0.5
    vision_warmup_steps: int = 0
    vision_warmup_lr: float = 1e-3
    vision_warmup_batch: int = 32
    decoder_polish_steps: int = 0
    decoder_polish_lr: float = 1e-3
    decoder_polish_batch: int = 32

    def __post_init__(self) -> None:
        phase_settings(self.phase)
        for stage, steps, lr, batch in (
            (
                "vision warm-up",
                self.vision_warmup_steps,
                self.vision_warmup_lr,
                self.vision_warmup_batch,
            ),
            (
                "decoder polish",
                self.decoder_polish_steps,
                self.decoder_polish_lr,
                self.decoder_polish_batch,
            ),
        ):
            if steps < 0 or batch < 1 or lr <= 0:
                raise ConfigError(
                    f"{stage} needs steps >= 0, batch >= 1 and lr > 0, got {steps}, {batch}, {lr}"
                )
        for name in ("steps", "micro_batch", "effective_batch", "warmup_steps"):
            value = getattr(self, name)
            if value is not None and value < (0 if name == "warmup_steps" else 1):
                raise ConfigError(f"{name} must be positive, got {value}")
        if self.learning_rate is not None and self.learning_rate <= 0:
            raise ConfigError(f"learning_rate must be positive, got {self.learning_rate}")
        if self.checkpoint_every < 1:
            raise ConfigError(f"checkpoint_every must be >= 1, got {self.checkpoint_every}")
        if not 0 <= self.min_lr_ratio <= 1:
            raise ConfigError(f"min_lr_ratio must be in [0, 1], got {self.min_lr_ratio}")

    def pool(self, image_size: int) -> PoolConfig:
        """The training pool of this run at the model's image size."""
        return PoolConfig(
            split="train",
            size=self.train_pool_size,
            image_size=image_size,
            seed=self.pool_seed,
            reports_per_set=self.reports_per_set,
            min_words=self.min_words,
            temper=self.temper,
        )

    def plan(self, phase: PhaseSettings, pool_size: int) -> TrainPlan:
        """Concrete batch sizes and schedule: this config's values, else the phase's (without an
        explicit effective batch, the largest multiple of the micro-batch up to the phase's)."""
        micro = self.micro_batch or phase.batch_size
        effective = self.effective_batch or max(micro, phase.effective_batch_size // micro * micro)
        if effective % micro:
            raise ConfigError(f"effective batch {effective} is not a multiple of {micro}")
        steps = self.steps or phase.epochs * math.ceil(pool_size / effective)
        return TrainPlan(
            micro_batch=micro,
            accumulation=effective // micro,
            learning_rate=self.learning_rate or phase.learning_rate,
            warmup_steps=min(
                self.warmup_steps if self.warmup_steps is not None else phase.warmup_steps, steps
            ),
            total_steps=steps,
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain values (for the trainer state and `training.json`)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        """Rebuild a config written by `to_dict` (unknown keys are an error)."""
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ConfigError(f"unknown training settings: {', '.join(sorted(unknown))}")
        return cls(**data)


@dataclass(frozen=True)
class TrainPlan:
    """The resolved numbers a run trains with."""

    micro_batch: int
    accumulation: int
    learning_rate: float
    warmup_steps: int
    total_steps: int

    @property
    def effective_batch(self) -> int:
        """Images per optimiser step."""
        return self.micro_batch * self.accumulation


def demo_config() -> TrainConfig:
    """The CPU demo: the tiny model from random init, a vision warm-up on the auxiliary labels
    (see `vision_warmup`), the whole model with backbones trained and phase-1 loss weights,
    then a decoder polish with the encoder frozen (see `decoder_polish`)."""
    return TrainConfig(
        phase=1,
        preset="tiny",
        train_backbones=True,
        vision_warmup_steps=3000,
        steps=500,
        micro_batch=16,
        effective_batch=32,
        learning_rate=1e-3,
        warmup_steps=60,
        checkpoint_every=150,
        train_pool_size=2000,
        temper=0.25,
        decoder_polish_steps=2000,
        decoder_polish_batch=8,
    )


def warmup_cosine(plan: TrainPlan, min_ratio: float) -> Any:
    """LR multiplier: linear warm-up, then cosine decay to `min_ratio` at the last step."""

    def factor(step: int) -> float:
        if step < plan.warmup_steps:
            return (step + 1) / plan.warmup_steps
        span = max(1, plan.total_steps - plan.warmup_steps)
        progress = min(1.0, (step - plan.warmup_steps) / span)
        return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress))

    return factor
