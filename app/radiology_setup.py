"""Build the radiology service from settings: which checkpoint, where heatmaps go, report length.

Usage:
    service = build_radiology_service(settings, runtime.models)   # loads on the first report
    checkpoint_path(settings)                                      # or AssetError with the fix
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from app.settings import Settings
from tools.models.registry import ModelRegistry
from tools.radiology.decoder import GenerationSettings
from tools.radiology.service import RadiologyService, find_checkpoint

HEATMAP_FOLDER = "heatmaps"


def checkpoint_path(settings: Settings) -> Path:
    """The checkpoint to serve (MEDGRAPH_RADIOLOGY_CHECKPOINT, else the demo model)."""
    return find_checkpoint(settings.radiology_checkpoint, settings.cache_dir)


def generation_settings(settings: Settings) -> GenerationSettings:
    """Spec §4.6 beam search, with the configured longest report."""
    return replace(GenerationSettings(), max_new_tokens=settings.radiology_max_new_tokens)


def build_radiology_service(settings: Settings, registry: ModelRegistry) -> RadiologyService:
    """The report service; the checkpoint is found and loaded on its first request."""
    return RadiologyService(
        registry,
        lambda: checkpoint_path(settings),
        settings.resolved_radiology_output_dir / HEATMAP_FOLDER,
        generation=generation_settings(settings),
        threads=settings.radiology_threads,
    )
