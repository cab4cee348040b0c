"""`medgraph radiology prepare|train|evaluate`: data and phantom pools, training, evaluation.

These are plain functions; the radiology typer app registers them:
    radiology_app.command("prepare")(prepare)
    radiology_app.command("train")(train)
    radiology_app.command("evaluate")(evaluate)
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from app.settings import get_settings
from state.errors import ConfigError, MedGraphError

if TYPE_CHECKING:
    from tools.radiology.evaluate import EvaluationResult

console = Console()
err_console = Console(stderr=True)
PRESET_IMAGE_SIZES = {"tiny": 128, "full": 384}
TARGET_F1 = 0.80


def _fail(exc: MedGraphError) -> typer.Exit:
    err_console.print(f"[bold red]error:[/] {escape(str(exc))}")
    return typer.Exit(exc.exit_code)


def _checkpoints(cache_dir: Path) -> Path:
    return cache_dir / "radiology" / "checkpoints"


def prepare(
    preset: Annotated[
        str, typer.Option(help="Model size whose image side the pools use: tiny or full.")
    ] = "tiny",
    pool_size: Annotated[
        int | None, typer.Option(min=1, help="Training phantoms (default: the recipe's).")
    ] = None,
    test_images: Annotated[int, typer.Option(min=1, help="Phantoms in the test pool.")] = 200,
    splits_file: Annotated[
        Path | None, typer.Option(help="Also write the patient split's report ids as JSON.")
    ] = None,
) -> None:
    """Fetch the IU reports and lung masks, train the report tokenizer, render phantom pools."""
    from dataclasses import replace

    from tools.radiology.dataset import PoolConfig, RadiologyCorpus, load_pool
    from tools.radiology.tokenizer import report_tokenizer
    from tools.radiology.train_config import TrainConfig, demo_config

    if preset not in PRESET_IMAGE_SIZES:
        raise _fail(ConfigError(f"unknown preset {preset!r}: use tiny or full"))
    settings = get_settings()
    cache = settings.cache_dir
    try:
        with console.status("fetching the IU X-ray reports and lung masks"):
            corpus = RadiologyCorpus.load(cache)
        with console.status("training (or loading) the report tokenizer"):
            tokenizer = report_tokenizer(cache, corpus.report_texts)
        with console.status("labelling the reports of each split"):
            pairable = {name: corpus.pairable(name) for name in ("train", "validation", "test")}
        size = PRESET_IMAGE_SIZES[preset]
        recipe = demo_config() if preset == "tiny" else TrainConfig(preset=preset)
        if pool_size is not None:
            recipe = replace(recipe, train_pool_size=pool_size)
        train_pool = load_pool(cache, corpus, recipe.pool(size), console)
        test_pool = load_pool(
            cache, corpus, PoolConfig(split="test", size=test_images, image_size=size), console
        )
    except MedGraphError as exc:
        raise _fail(exc) from None
    table = Table(title=f"IU X-ray reports by split (tokenizer: {len(tokenizer)} tokens)")
    for column in ("split", "reports", "pairable with phantoms", "phantoms cached"):
        table.add_column(column, justify="left" if column == "split" else "right")
    phantoms = {"train": len(train_pool), "validation": 0, "test": len(test_pool)}
    for name, reports in pairable.items():
        total = len(getattr(corpus.splits, name))
        table.add_row(name, str(total), str(len(reports)), str(phantoms[name]))
    console.print(table)
    if splits_file is not None:
        splits_file.parent.mkdir(parents=True, exist_ok=True)
        splits_file.write_text(json.dumps(corpus.splits.ids(lambda r: r.uid), indent=1))
        console.print(f"Split written to {escape(str(splits_file))}")


def train(
    demo: Annotated[
        bool,
        typer.Option(
            "--demo", help="The CPU demo: tiny model from random init on phantoms (~15 min)."
        ),
    ] = False,
    phase: Annotated[int, typer.Option(min=1, max=3, help="Training phase (spec §6).")] = 1,
    preset: Annotated[str, typer.Option(help="Model size: full (spec) or tiny.")] = "full",
    from_scratch: Annotated[
        bool,
        typer.Option(
            "--from-scratch",
            help="Train SigLIP and T5 whole: for models without pretrained weights.",
        ),
    ] = False,
    steps: Annotated[int | None, typer.Option(min=1, help="Optimiser steps.")] = None,
    learning_rate: Annotated[float | None, typer.Option("--lr", help="Peak learning rate.")] = None,
    batch_size: Annotated[int | None, typer.Option(min=1, help="Micro-batch size.")] = None,
    pool_size: Annotated[int | None, typer.Option(min=1, help="Training phantoms.")] = None,
    vision_warmup: Annotated[
        int | None,
        typer.Option(
            min=0,
            help="Encoder-only steps on the auxiliary labels before report training "
            "(default: 3000 for --demo, else 0).",
        ),
    ] = None,
    decoder_polish: Annotated[
        int | None,
        typer.Option(
            min=0,
            help="Steps that train the fusion and decoder alone, encoder frozen, after the run "
            "(default: the --demo recipe's, else 0).",
        ),
    ] = None,
    out: Annotated[Path | None, typer.Option(help="Checkpoint folder to write.")] = None,
    init_from: Annotated[
        Path | None, typer.Option(help="Start from this checkpoint (default: the last phase's).")
    ] = None,
    resume: Annotated[bool, typer.Option("--resume", help="Continue the run in --out.")] = False,
    weights: Annotated[
        Path | None, typer.Option(help="Pretrained weights folder (MEDGRAPH_RADIOLOGY_WEIGHTS).")
    ] = None,
    threads: Annotated[
        int | None, typer.Option(min=1, help="CPU threads (default: 2 for --demo).")
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Random seed.")] = None,
) -> None:
    """Train one phase on phantom–report pairs and write a checkpoint (resumable)."""
    from dataclasses import replace

    from tools.radiology.service import demo_checkpoint_dir
    from tools.radiology.train import train as run_training
    from tools.radiology.train_config import TrainConfig, demo_config

    settings = get_settings()
    cache = settings.cache_dir
    config = demo_config() if demo else TrainConfig(phase=phase, preset=preset)
    overrides = {
        "steps": steps,
        "learning_rate": learning_rate,
        "micro_batch": batch_size,
        "train_pool_size": pool_size,
        "seed": seed,
        "vision_warmup_steps": vision_warmup,
        "decoder_polish_steps": decoder_polish,
    }
    try:
        config = replace(config, **{k: v for k, v in overrides.items() if v is not None})
        if from_scratch:
            config = replace(config, train_backbones=True)
        target = out or (
            demo_checkpoint_dir(cache) if demo else _checkpoints(cache) / f"phase{config.phase}"
        )
        start = init_from
        if start is None and not resume and not demo and config.phase > 1:
            start = _checkpoints(cache) / f"phase{config.phase - 1}"
            if not start.is_dir():
                raise ConfigError(
                    f"phase {config.phase} starts from a phase {config.phase - 1} checkpoint: "
                    f"train --phase {config.phase - 1} first or pass --init-from"
                )
        result = run_training(
            config,
            cache_dir=cache,
            out_dir=target,
            weights_dir=weights or settings.radiology_weights,
            init_from=start,
            resume=resume,
            threads=threads or (2 if demo else None),
            console=console,
        )
    except MedGraphError as exc:
        raise _fail(exc) from None
    minutes = result.seconds / 60
    console.print(
        f"Checkpoint: {escape(str(result.checkpoint))} ({result.steps} steps, "
        f"{minutes:.1f} min on {result.device}). Trained on synthetic phantoms"
        + (
            ", backbones from random init (no pretrained weights)."
            if config.train_backbones
            else "."
        )
    )
    console.print("Score it with `medgraph radiology evaluate --checkpoint PATH`.")


def _percent(value: float) -> str:
    return f"{100 * value:.1f}"


def evaluation_tables(result: EvaluationResult) -> list[Table]:
    """The summary table (model vs baseline) and the per-condition table, which also scores
    the auxiliary head alone (encoder quality, without the report decoder)."""
    from tools.radiology.pairing import DRAWABLE_CONDITIONS

    model, baseline = result.model, result.baseline
    summary = Table(
        title=f"{result.model_id} on {result.images} held-out phantoms (scores ×100)",
        caption="Model trained on synthetic phantoms, not on real radiographs."
        if result.phantom_trained
        else None,
    )
    for column in ("metric", "model", "most-frequent-report baseline"):
        summary.add_column(column, justify="left" if column == "metric" else "right")
    rows = [
        ("BLEU-1", lambda s: s.text.bleu_1),
        ("BLEU-2", lambda s: s.text.bleu_2),
        ("BLEU-3", lambda s: s.text.bleu_3),
        ("BLEU-4", lambda s: s.text.bleu_4),
        ("ROUGE-L", lambda s: s.text.rouge_l),
        ("METEOR (exact+stem)", lambda s: s.text.meteor),
        ("clinical micro P", lambda s: s.clinical.micro_precision),
        ("clinical micro R", lambda s: s.clinical.micro_recall),
        ("clinical micro F1", lambda s: s.clinical.micro_f1),
        ("clinical macro P", lambda s: s.clinical.macro_precision),
        ("clinical macro R", lambda s: s.clinical.macro_recall),
        ("clinical macro F1", lambda s: s.clinical.macro_f1),
        ("phantom macro F1 (11 drawable)", lambda s: s.phantom_macro_f1),
    ]
    for name, value in rows:
        summary.add_row(name, _percent(value(model)), _percent(value(baseline)))
    aux = result.aux_head
    per_condition = Table(
        title="Clinical scores per condition (vs the phantoms' true findings)",
        caption=f"aux head F1: the auxiliary head alone, p > {aux.threshold:g}; phantom macro "
        f"F1 {_percent(aux.phantom_macro_f1)} (reports: {_percent(model.phantom_macro_f1)})",
    )
    for column in ("condition", "support", "P", "R", "F1", "aux head F1", "baseline F1"):
        per_condition.add_column(column, justify="left" if column == "condition" else "right")
    for condition, scores in model.clinical.per_condition.items():
        if not (scores.support or scores.predicted):
            continue
        drawn = "" if condition in DRAWABLE_CONDITIONS else " (never drawn)"
        per_condition.add_row(
            condition + drawn,
            str(scores.support),
            _percent(scores.precision),
            _percent(scores.recall),
            _percent(scores.f1),
            _percent(aux.clinical.per_condition[condition].f1),
            _percent(baseline.clinical.per_condition[condition].f1),
        )
    return [summary, per_condition]


def evaluate(
    checkpoint: Annotated[
        Path | None,
        typer.Option(help="Checkpoint folder (default: MEDGRAPH_RADIOLOGY_CHECKPOINT or demo)."),
    ] = None,
    n: Annotated[int, typer.Option("--n", min=1, help="Test phantoms to score.")] = 200,
    max_new_tokens: Annotated[
        int, typer.Option(min=20, max=512, help="Longest generated report (spec: 512).")
    ] = 160,
    beams: Annotated[int, typer.Option(min=1, help="Beam width (spec: 4).")] = 4,
    threads: Annotated[int | None, typer.Option(min=1, help="CPU threads.")] = None,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Also write the full result as JSON.")
    ] = None,
) -> None:
    """Score a checkpoint and the most-frequent-report baseline on held-out test phantoms."""
    from app.radiology_setup import checkpoint_path
    from tools.radiology.evaluate import evaluate_checkpoint

    settings = get_settings()
    try:
        path = checkpoint or checkpoint_path(settings)
        result = evaluate_checkpoint(
            path,
            cache_dir=settings.cache_dir,
            images=n,
            max_new_tokens=max_new_tokens,
            num_beams=beams,
            threads=threads,
            console=console,
        )
    except MedGraphError as exc:
        raise _fail(exc) from None
    for table in evaluation_tables(result):
        console.print(table)
    met = result.model.phantom_macro_f1 >= TARGET_F1 and (
        result.model.phantom_macro_f1 > result.baseline.phantom_macro_f1
    )
    console.print(
        f"Target (phantom macro F1 ≥ {TARGET_F1:.2f} and above the baseline): "
        + ("[green]met[/]" if met else "[red]not met[/]")
    )
    console.print(f"Baseline report: {escape(result.baseline_text)}")
    example = result.examples[0]
    console.print(f"Example ({escape(example.findings)}): {escape(example.generated)}")
    for note in result.notes:
        console.print(f"[dim]{escape(note)}[/]")
    if json_out is not None:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(result.model_dump_json(indent=2))
        console.print(f"Result written to {escape(str(json_out))}")
