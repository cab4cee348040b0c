"""The one-batch-per-step training stages around a run (vision warm-up, decoder polish).

Each stage trains a given set of parameters with its own AdamW and a short schedule (linear
warm-up over the first 2% of steps, cosine decay to 10% of the peak), one micro-batch per
optimiser step, with a progress bar; the caller supplies the loss of step `i`.

Usage:
    losses = run_stage("vision warm-up", "aux", parameters, loss_of_step, steps=3000,
                       learning_rate=1e-3, weight_decay=0.01, grad_clip=1.0, console=console)
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from state.errors import ConfigError
from tools.radiology.train_config import TrainPlan, warmup_cosine

WARMUP_FRACTION = 0.02
MIN_LR_RATIO = 0.1


def stage_schedule(
    optimizer: torch.optim.Optimizer, steps: int
) -> torch.optim.lr_scheduler.LambdaLR:
    """Linear warm-up over the first 2% of `steps`, then cosine decay to 10% of the peak."""
    plan = TrainPlan(
        micro_batch=1,
        accumulation=1,
        learning_rate=optimizer.defaults["lr"],
        warmup_steps=max(1, round(steps * WARMUP_FRACTION)),
        total_steps=steps,
    )
    return torch.optim.lr_scheduler.LambdaLR(optimizer, warmup_cosine(plan, MIN_LR_RATIO))


def run_stage(
    name: str,
    loss_name: str,
    parameters: list[torch.nn.Parameter],
    loss_of_step: Callable[[int], torch.Tensor | None],
    *,
    steps: int,
    learning_rate: float,
    weight_decay: float,
    grad_clip: float,
    console: Console | None,
) -> list[float]:
    """Train `parameters` for `steps` steps on `loss_of_step(i)`; return the losses.

    A missing or non-finite loss stops the stage with a `ConfigError` naming the step.
    """
    if steps < 1 or learning_rate <= 0:
        raise ConfigError(f"{name} needs steps >= 1 and lr > 0, got {steps}, {learning_rate}")
    if not parameters:
        raise ConfigError(f"{name}: no trainable parameters (train the backbones)")
    optimizer = torch.optim.AdamW(parameters, lr=learning_rate, weight_decay=weight_decay)
    scheduler = stage_schedule(optimizer, steps)
    losses: list[float] = []
    with Progress(
        TextColumn(name),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn(f"{loss_name} {{task.fields[loss]:.4f}}"),
        TimeRemainingColumn(),
        console=console,
        disable=console is None,
    ) as progress:
        task = progress.add_task(name, total=steps, loss=float("nan"))
        for step in range(steps):
            loss = loss_of_step(step)
            if loss is None or not torch.isfinite(loss):
                raise ConfigError(f"{name} diverged at step {step}: loss {loss}")
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(parameters, grad_clip)
            optimizer.step()
            scheduler.step()
            losses.append(float(loss.detach()))
            progress.update(task, advance=1, loss=losses[-1])
    return losses
