"""Vision warm-up: train the encoder side alone on the auxiliary labels before report training.

Spec phase 1 assumes a pretrained SigLIP. Without one (offline), a from-scratch encoder learns to
see far faster on the auxiliary loss alone than inside the full model, where each step also pays
for the T5 decoder: on 2 CPU cores an encoder-only step of 32 phantoms takes ~0.1 s against
~0.4 s for a full step. The warm-up trains SigLIP, the queries, the cross-attention and the
auxiliary head on augmented batches of the same phantom pool; the decoder is untouched.

Usage:
    losses = warm_up_vision(model, batches, steps=3000, learning_rate=1e-3, device=device)
"""

from __future__ import annotations

import torch
from rich.console import Console

from tools.radiology.dataset import TrainingBatches
from tools.radiology.model import CheXQueryMedVLM
from tools.radiology.stage import run_stage


def encoder_parameters(model: CheXQueryMedVLM) -> list[torch.nn.Parameter]:
    """The trainable parameters outside the report decoder."""
    return [
        p
        for name, p in model.named_parameters()
        if p.requires_grad and not name.startswith("decoder.")
    ]


def warm_up_vision(
    model: CheXQueryMedVLM,
    batches: TrainingBatches,
    *,
    steps: int,
    learning_rate: float,
    device: torch.device,
    weight_decay: float = 0.01,
    grad_clip: float = 1.0,
    console: Console | None = None,
) -> list[float]:
    """Train the encoder side for `steps` micro-batches on the auxiliary loss; return the losses.

    The learning rate follows `stage_schedule`. Batch `i` is `batches.batch(i)`, so the
    warm-up is deterministic.
    """

    def loss_of_step(step: int) -> torch.Tensor | None:
        batch = batches.batch(step)
        out = model(batch.pixel_values.to(device), aux_targets=batch.aux_targets.to(device))
        return out.auxiliary_loss

    model.train()
    return run_stage(
        "vision warm-up",
        "aux",
        encoder_parameters(model),
        loss_of_step,
        steps=steps,
        learning_rate=learning_rate,
        weight_decay=weight_decay,
        grad_clip=grad_clip,
        console=console,
    )
