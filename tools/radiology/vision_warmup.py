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
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from state.errors import ConfigError
from tools.radiology.dataset import TrainingBatches
from tools.radiology.model import CheXQueryMedVLM
from tools.radiology.train_config import stage_schedule


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
    if steps < 1 or learning_rate <= 0:
        raise ConfigError(
            f"vision warm-up needs steps >= 1 and lr > 0, got {steps}, {learning_rate}"
        )
    parameters = encoder_parameters(model)
    if not parameters:
        raise ConfigError("vision warm-up: no trainable encoder parameters (train the backbones)")
    optimizer = torch.optim.AdamW(parameters, lr=learning_rate, weight_decay=weight_decay)
    scheduler = stage_schedule(optimizer, steps)
    losses: list[float] = []
    model.train()
    with Progress(
        TextColumn("vision warm-up"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("aux {task.fields[loss]:.4f}"),
        TimeRemainingColumn(),
        console=console,
        disable=console is None,
    ) as progress:
        task = progress.add_task("warm-up", total=steps, loss=float("nan"))
        for step in range(steps):
            batch = batches.batch(step)
            out = model(batch.pixel_values.to(device), aux_targets=batch.aux_targets.to(device))
            loss = out.auxiliary_loss
            if loss is None or not torch.isfinite(loss):
                raise ConfigError(f"vision warm-up diverged at step {step}: loss {loss}")
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(parameters, grad_clip)
            optimizer.step()
            scheduler.step()
            losses.append(float(loss.detach()))
            progress.update(task, advance=1, loss=losses[-1])
    return losses
