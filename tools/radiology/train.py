"""Train CheXQuery-MedVLM on phantom–report pairs, one phase per run (spec §6–7).

Reads top to bottom: set up, data, model, what trains, optimiser and schedule, (vision
warm-up or resume), loop, checkpoints, (decoder polish). A checkpoint folder holds the model
(`save_checkpoint`), `trainer_state.pt` (step, optimiser, schedule, RNG, stage summaries) so
that `resume=True` continues exactly, and `training.json` (the settings and the loss history,
for people).

Usage:
    result = train(TrainConfig(phase=1), cache_dir=cache, out_dir=cache / "ckpt/phase1",
                   weights_dir=Path("/weights"), console=Console())
    train(TrainConfig(phase=2), cache_dir=cache, out_dir=cache / "ckpt/phase2",
          init_from=cache / "ckpt/phase1")
    train(demo_config(), cache_dir=cache, out_dir=cache / "ckpt/demo", threads=2)
    train(demo_config(), cache_dir=cache, out_dir=cache / "ckpt/demo", resume=True)
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from peft.tuners.tuners_utils import BaseTunerLayer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from state.errors import AssetError, ConfigError
from tools.radiology.dataset import RadiologyCorpus, TrainingBatches, load_pool
from tools.radiology.decoder_polish import polish_decoder
from tools.radiology.lora import is_lora_parameter
from tools.radiology.model import CheXQueryMedVLM
from tools.radiology.queries import TextEmbedder
from tools.radiology.train_config import TrainConfig, TrainPlan, warmup_cosine
from tools.radiology.vision_warmup import warm_up_vision
from tools.radiology.weights import RadiologyModel, build_model, load_checkpoint, save_checkpoint

TRAINER_STATE = "trainer_state.pt"
TRAINING_LOG = "training.json"
LOG_EVERY = 10


@dataclass(frozen=True)
class TrainResult:
    """What a run produced."""

    checkpoint: Path
    steps: int
    resumed_from: int
    seconds: float
    final_loss: float
    plan: TrainPlan
    device: str


def pick_device() -> torch.device:
    """cuda when available, else cpu."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def autocast(device: torch.device) -> contextlib.AbstractContextManager[Any]:
    """bf16 autocast on GPU; full precision on CPU."""
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def unfreeze_backbones(model: CheXQueryMedVLM) -> None:
    """From-scratch mode: SigLIP and the T5 decoder train whole (not the unused T5 encoder);
    SigLIP stays frozen in a phase that freezes vision fully (phase 3).

    The LoRA adapters stay frozen. While they are still at their zero start (every `lora_B`
    is zero) they add nothing to the output, so they are switched off for speed.
    """
    adapters_at_zero = True
    for module in (model.vision, model.decoder):
        trains = module is model.decoder or not model.phase.vision_fully_frozen
        for name, parameter in module.named_parameters():
            if is_lora_parameter(name):
                adapters_at_zero &= ".lora_B" not in name or not bool(parameter.any())
            elif trains and not name.startswith("t5.encoder."):
                parameter.requires_grad_(True)
    if adapters_at_zero:
        for layer in model.modules():
            if isinstance(layer, BaseTunerLayer):
                layer.enable_adapters(False)


def optimizer_groups(model: CheXQueryMedVLM, weight_decay: float) -> list[dict[str, Any]]:
    """Trainable parameters: matrices decay, vectors (biases, norms, queries' scales) do not."""
    trainable = [p for p in model.parameters() if p.requires_grad]
    return [
        {"params": [p for p in trainable if p.ndim >= 2], "weight_decay": weight_decay},
        {"params": [p for p in trainable if p.ndim < 2], "weight_decay": 0.0},
    ]


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _progress(console: Console | None) -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn(
            "loss {task.fields[loss]:.3f} (gen {task.fields[gen]:.3f}, "
            "aux {task.fields[aux]:.3f}) lr {task.fields[lr]:.1e}"
        ),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        disable=console is None,
    )


def _stage_summary(
    name: str, loss: str, losses: list[float], started: float, say: Callable[[str], object]
) -> dict[str, Any]:
    """What a warm-up or polish stage did, for the trainer state and `training.json`."""
    summary = {
        "steps": len(losses),
        f"first_{loss}_loss": losses[0],
        f"final_{loss}_loss": sum(losses[-LOG_EVERY:]) / len(losses[-LOG_EVERY:]),
        "seconds": round(time.perf_counter() - started, 1),
    }
    say(
        f"{name}: {len(losses)} steps in {summary['seconds']} s, {loss} loss "
        f"{losses[0]:.4f} -> {summary[f'final_{loss}_loss']:.4f}"
    )
    return summary


def _write_json(path: Path, data: dict[str, Any]) -> None:
    partial = path.with_suffix(".json.part")
    partial.write_text(json.dumps(data, indent=2))
    os.replace(partial, path)


def save_run(
    bundle: RadiologyModel,
    out_dir: Path,
    state: dict[str, Any],
    log: dict[str, Any],
) -> None:
    """Write the model checkpoint, then the trainer state and the log into its folder."""
    save_checkpoint(bundle, out_dir)
    partial = out_dir / f".{TRAINER_STATE}.part"
    torch.save(state, partial)
    os.replace(partial, out_dir / TRAINER_STATE)
    _write_json(out_dir / TRAINING_LOG, log)


def load_trainer_state(out_dir: Path) -> dict[str, Any]:
    """The trainer state saved with a run's last checkpoint."""
    path = out_dir / TRAINER_STATE
    if not path.is_file():
        raise AssetError(f"cannot resume: {out_dir} holds no {TRAINER_STATE}")
    try:
        return torch.load(path, weights_only=True)
    except (OSError, RuntimeError) as exc:
        raise AssetError(f"cannot resume: {path} is unreadable ({exc})") from exc


def train(
    config: TrainConfig,
    *,
    cache_dir: Path,
    out_dir: Path,
    weights_dir: Path | None = None,
    init_from: Path | None = None,
    resume: bool = False,
    threads: int | None = None,
    embedder: TextEmbedder | None = None,
    corpus: RadiologyCorpus | None = None,
    console: Console | None = None,
) -> TrainResult:
    """Run one training phase and leave its checkpoint in `out_dir`.

    A new run builds the model (pretrained parts from `weights_dir` where present) or starts
    from the checkpoint `init_from` (e.g. phase 2 from phase 1). `resume=True` continues the
    run whose last checkpoint is in `out_dir`, with that run's settings (`config` is ignored).
    `corpus` saves reloading the IU data when the caller already has it.
    """
    say = console.print if console is not None else (lambda *_: None)
    started = time.perf_counter()

    # -- setup -------------------------------------------------------------------------------
    state: dict[str, Any] | None = load_trainer_state(out_dir) if resume else None
    if state is not None:
        config = TrainConfig.from_dict(state["config"])
    if threads:
        torch.set_num_threads(threads)
    _seed_everything(config.seed)
    device = pick_device()

    # -- model -------------------------------------------------------------------------------
    corpus = corpus or RadiologyCorpus.load(cache_dir)
    if state is not None:
        bundle = load_checkpoint(out_dir, device)
    elif init_from is not None:
        bundle = load_checkpoint(init_from, device)
        bundle.card = bundle.card.with_training(config.phase, phantom=True)
    else:
        bundle = build_model(
            config.preset,
            cache_dir=cache_dir,
            report_texts=corpus.report_texts,
            weights_dir=weights_dir,
            embedder=embedder,
            model_id=f"chexquery-medvlm-{config.preset}"
            + ("-scratch" if config.train_backbones else ""),
        )
        bundle.card = bundle.card.with_training(config.phase, phantom=True)
    model = bundle.model.to(device).train()
    if not bundle.card.pretrained and not config.train_backbones:
        say(
            "[yellow]warning:[/] the backbones are randomly initialised and frozen in this "
            "phase; without pretrained weights (or --from-scratch) the model cannot learn to "
            "write reports."
        )

    # -- data --------------------------------------------------------------------------------
    pool = load_pool(cache_dir, corpus, config.pool(model.config.image_size), console)

    # -- what trains (spec §6.1), optimiser and schedule -----------------------------------
    phase = model.set_phase(config.phase)
    if config.train_backbones:
        unfreeze_backbones(model)
    plan = config.plan(phase, len(pool))
    optimizer = torch.optim.AdamW(
        optimizer_groups(model, config.weight_decay), lr=plan.learning_rate, betas=(0.9, 0.999)
    )
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, warmup_cosine(plan, config.min_lr_ratio)
    )
    batches = TrainingBatches(pool, plan.micro_batch, seed=config.seed)
    step, history = 0, []
    warmup: dict[str, Any] = {}
    polish: dict[str, Any] = {}
    if state is None and config.vision_warmup_steps:
        warmup_started = time.perf_counter()
        losses = warm_up_vision(
            model,
            TrainingBatches(pool, config.vision_warmup_batch, seed=config.seed + 1),
            steps=config.vision_warmup_steps,
            learning_rate=config.vision_warmup_lr,
            device=device,
            weight_decay=config.weight_decay,
            grad_clip=config.grad_clip,
            console=console,
        )
        warmup = _stage_summary("vision warm-up", "aux", losses, warmup_started, say)
    if state is not None:
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        torch.set_rng_state(state["torch_rng"])
        step, history = int(state["step"]), list(state["history"])
        warmup = dict(state.get("vision_warmup", {}))
        polish = dict(state.get("decoder_polish", {}))
    resumed_from = step
    say(
        f"phase {config.phase} on {device.type}: {model.trainable_parameter_count():,} of "
        f"{model.parameter_count():,} parameters train"
        + (" (backbones trained from scratch)" if config.train_backbones else "")
        + f"; {plan.total_steps} steps of {plan.effective_batch} images "
        f"({plan.micro_batch} × {plan.accumulation}), lr {plan.learning_rate:g}, "
        f"{len(pool)} training phantoms"
    )

    def checkpoint() -> None:
        save_run(
            bundle,
            out_dir,
            {
                "step": step,
                "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(),
                "torch_rng": torch.get_rng_state(),
                "config": config.to_dict(),
                "history": history,
                "vision_warmup": warmup,
                "decoder_polish": polish,
            },
            {
                "config": config.to_dict(),
                "plan": asdict(plan),
                "step": step,
                "card": bundle.card.to_dict(),
                "train_pool": asdict(pool.config),
                "device": device.type,
                "history": history,
                **({"vision_warmup": warmup} if warmup else {}),
                **({"decoder_polish": polish} if polish else {}),
            },
        )

    # -- loop --------------------------------------------------------------------------------
    loss_value = gen_value = aux_value = float("nan")
    with _progress(console) as progress:
        task = progress.add_task(
            f"phase {config.phase}",
            total=plan.total_steps,
            completed=step,
            loss=loss_value,
            gen=gen_value,
            aux=aux_value,
            lr=scheduler.get_last_lr()[0],
        )
        while step < plan.total_steps:
            totals = torch.zeros(3)
            for index in range(step * plan.accumulation, (step + 1) * plan.accumulation):
                batch = batches.batch(index)
                decoder = bundle.prompter.training_batch(batch.targets)
                with autocast(device):
                    out = model(
                        batch.pixel_values.to(device),
                        decoder_input_ids=decoder.decoder_input_ids.to(device),
                        labels=decoder.labels.to(device),
                        aux_targets=batch.aux_targets.to(device),
                    )
                if out.loss is None or not torch.isfinite(out.loss):
                    raise ConfigError(f"training diverged at step {step}: loss {out.loss}")
                (out.loss / plan.accumulation).backward()
                parts = (out.loss, out.generation_loss, out.auxiliary_loss)
                totals += torch.tensor([p.item() if p is not None else 0.0 for p in parts])
            torch.nn.utils.clip_grad_norm_(
                [p for p in model.parameters() if p.requires_grad], config.grad_clip
            )
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            step += 1
            loss_value, gen_value, aux_value = (totals / plan.accumulation).tolist()
            if step % LOG_EVERY == 0 or step == plan.total_steps:
                history.append(
                    {"step": step, "loss": loss_value, "gen": gen_value, "aux": aux_value}
                )
            progress.update(
                task,
                advance=1,
                loss=loss_value,
                gen=gen_value,
                aux=aux_value,
                lr=scheduler.get_last_lr()[0],
            )
            if step % config.checkpoint_every == 0 or step == plan.total_steps:
                checkpoint()

    if config.decoder_polish_steps and not polish:
        polish_started = time.perf_counter()
        losses = polish_decoder(
            model,
            TrainingBatches(pool, config.decoder_polish_batch, seed=config.seed + 2),
            bundle.prompter,
            steps=config.decoder_polish_steps,
            learning_rate=config.decoder_polish_lr,
            device=device,
            weight_decay=config.weight_decay,
            grad_clip=config.grad_clip,
            console=console,
        )
        polish = _stage_summary("decoder polish", "gen", losses, polish_started, say)
        checkpoint()
    elif step == resumed_from:  # nothing left to do: keep the checkpoint as it is
        say(f"{out_dir} already holds all {step} steps of this run")
    model.eval()
    return TrainResult(
        checkpoint=out_dir,
        steps=step,
        resumed_from=resumed_from,
        seconds=time.perf_counter() - started,
        final_loss=loss_value,
        plan=plan,
        device=device.type,
    )
