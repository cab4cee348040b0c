"""`medgraph radiology generate|visualize|phantom` and the training commands: the VLM in a shell.

The training commands (`prepare`, `train`, `evaluate`) live in `app.radiology_training_cli`.

Usage:
    medgraph radiology train --demo
    medgraph radiology phantom --findings cardiomegaly,effusion_left out.png
    medgraph radiology generate out.png [--json]
    medgraph radiology visualize out.png --out grid.png
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from app.radiology_training_cli import evaluate, prepare, train
from app.settings import Settings, get_settings
from state.errors import AssetError, MedGraphError

if TYPE_CHECKING:
    from tools.radiology.report_schema import RadiologyReport

radiology_app = typer.Typer(
    help="CheXQuery-MedVLM: draft chest X-ray reports, attention heatmaps, phantoms, training.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
radiology_app.command("prepare")(prepare)
radiology_app.command("train")(train)
radiology_app.command("evaluate")(evaluate)
console = Console()
err_console = Console(stderr=True)
DEMO_THREADS = 2

ImageArgument = Annotated[
    Path, typer.Argument(help="A chest radiograph: PNG, JPEG or DICOM.", show_default=False)
]


def _fail(exc: MedGraphError) -> typer.Exit:
    err_console.print(f"[bold red]error:[/] {escape(str(exc))}")
    return typer.Exit(exc.exit_code)


def build_demo_model(settings: Settings) -> Path:
    """Train the tiny demo model as `train --demo` does, with its progress bar on stderr."""
    from tools.radiology.service import demo_checkpoint_dir
    from tools.radiology.train import train as run_training
    from tools.radiology.train_config import demo_config

    result = run_training(
        demo_config(),
        cache_dir=settings.cache_dir,
        out_dir=demo_checkpoint_dir(settings.cache_dir),
        weights_dir=settings.radiology_weights,
        threads=DEMO_THREADS,
        console=err_console,
    )
    return result.checkpoint


def _ensure_checkpoint(settings: Settings, build: bool) -> Path:
    """The checkpoint to use; without one, offer to train the demo model (or fail with the fix)."""
    from app.radiology_setup import checkpoint_path

    try:
        return checkpoint_path(settings)
    except AssetError as exc:
        if settings.radiology_checkpoint is not None:
            raise
        err_console.print(f"[yellow]{escape(str(exc))}[/]")
        if not build and not typer.confirm(
            "Train the demo radiology model now (tiny config on synthetic phantoms)?",
            default=False,
            err=True,
        ):
            raise
    build_demo_model(settings)
    return checkpoint_path(settings)


def _print_report(report: RadiologyReport) -> None:
    console.print(f"[bold]Findings:[/] {escape(report.findings or '(none generated)')}")
    console.print(f"[bold]Impression:[/] {escape(report.impression or '(none generated)')}")
    table = Table(title="Auxiliary head: condition probabilities")
    table.add_column("condition")
    table.add_column("probability", justify="right")
    for condition, probability in report.ranked_probabilities():
        table.add_row(condition, f"{probability:.3f}")
    console.print(table)
    console.print(f"Visual gate: {report.gate:.3f}")
    folder = Path(report.attention_maps[0].path).parent
    console.print(f"Attention overlays ({len(report.attention_maps)}): {escape(str(folder))}")
    console.print(f"Model: {escape(report.model_id)}")
    console.print(f"[yellow]{escape(report.notice)}[/]")


@radiology_app.command("generate")
def generate(
    image: ImageArgument,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    build: Annotated[
        bool, typer.Option("--yes", "-y", help="Train the demo model without asking if none.")
    ] = False,
) -> None:
    """Draft a report for one image: findings, impression, probabilities, gate, heatmaps."""
    from app.radiology_setup import build_radiology_service
    from tools.models.registry import ModelRegistry

    settings = get_settings()
    try:
        _ensure_checkpoint(settings, build)
        service = build_radiology_service(settings, ModelRegistry(settings.local_device))
        try:
            with err_console.status("Generating the report"):
                report = service.report(image)
        finally:
            service.close()
    except MedGraphError as exc:
        raise _fail(exc) from None
    if as_json:
        console.print_json(json.dumps(report.model_dump(mode="json")))
        return
    _print_report(report)


@radiology_app.command("visualize")
def visualize(
    image: ImageArgument,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Where to write the grid PNG (default: the output dir)."),
    ] = None,
) -> None:
    """Write a grid figure of the image and its 20 query attention overlays."""
    from app.radiology_setup import build_radiology_service
    from tools.models.registry import ModelRegistry
    from tools.radiology.heatmaps import attention_grid

    settings = get_settings()
    try:
        _ensure_checkpoint(settings, build=False)
        service = build_radiology_service(settings, ModelRegistry(settings.local_device))
        engine = service.engine()
        with err_console.status("Running the model"):
            prepared = engine.prepare(image)
            prediction = engine.predict([prepared])[0]
            report = engine.report(prepared, prediction, service.heatmap_root)
        target = out or settings.resolved_radiology_output_dir / f"{prepared.short_id}-grid.png"
        attention_grid(
            prepared.image,
            prediction.attention_maps,
            target,
            title=f"{report.model_id}: query attention (last cross-attention layer)",
        )
    except MedGraphError as exc:
        raise _fail(exc) from None
    console.print(f"attention grid: {escape(str(target))}")
    console.print(
        f"overlays: {escape(str(Path(report.attention_maps[0].path).parent))}", highlight=False
    )
    console.print(f"[yellow]{escape(report.notice)}[/]")


@radiology_app.command("phantom")
def phantom(
    out: Annotated[Path, typer.Argument(help="The PNG to write.", show_default=False)],
    findings: Annotated[
        str,
        typer.Option(
            "--findings",
            help="Comma-separated findings, e.g. cardiomegaly,effusion_left ('' = normal).",
        ),
    ] = "",
    seed: Annotated[int, typer.Option(help="Seed: the same seed draws the same film.")] = 0,
    size: Annotated[int, typer.Option(help="Side of the square film in pixels.")] = 512,
) -> None:
    """Write a synthetic chest radiograph phantom with known findings."""
    from tools.radiology.assets import ensure_radiology_data
    from tools.radiology.lung_masks import LungMaskSet
    from tools.radiology.phantoms import write_phantom

    settings = get_settings()
    try:
        masks = LungMaskSet(ensure_radiology_data(settings.cache_dir).lung_masks_zip)
        written = write_phantom(findings, out, seed=seed, size=size, masks=masks)
    except MedGraphError as exc:
        raise _fail(exc) from None
    console.print(f"phantom ({findings or 'normal'}, seed {seed}): {escape(str(written))}")
