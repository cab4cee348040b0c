"""Shared parts for the dataset, training and evaluation tests: a cache and a tiny run config.

The cache is a temporary folder whose `radiology/data` and `radiology/tokenizer` link to the
real cached IU data and report tokenizer, so tests render their own small phantom pools and
write their own checkpoints without re-fetching or re-training anything else.
"""

from __future__ import annotations

import functools
from dataclasses import replace
from pathlib import Path

from app.settings import Settings
from tests.tools.radiology.model_support import iu_tokenizer
from tools.radiology.assets import data_dir, ensure_radiology_data
from tools.radiology.dataset import RadiologyCorpus
from tools.radiology.train_config import TrainConfig


def link_cache(root: Path) -> Path:
    """Make `root` a cache dir that shares the real radiology data and tokenizer."""
    real = Settings().cache_dir
    ensure_radiology_data(real)
    iu_tokenizer(real)
    (root / "radiology").mkdir(parents=True, exist_ok=True)
    (root / "radiology" / "data").symlink_to(data_dir(real), target_is_directory=True)
    (root / "radiology" / "tokenizer").symlink_to(
        real / "radiology" / "tokenizer", target_is_directory=True
    )
    return root


@functools.cache
def corpus() -> RadiologyCorpus:
    """The real IU corpus with its patient split (loaded once per test session)."""
    return RadiologyCorpus.load(Settings().cache_dir)


def tiny_run(**overrides: object) -> TrainConfig:
    """A run of 2 optimiser steps of 2 × 2 images from an 8-phantom pool, checkpoint each step."""
    config = TrainConfig(
        phase=1,
        steps=2,
        micro_batch=2,
        effective_batch=4,
        learning_rate=1e-3,
        warmup_steps=1,
        checkpoint_every=1,
        train_pool_size=8,
    )
    return replace(config, **overrides)  # type: ignore[arg-type]
