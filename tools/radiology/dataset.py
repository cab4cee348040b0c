"""Phantom–report training data: the IU corpus and its split, cached phantom pools, batches.

A pool is a fixed set of phantoms for one split, each drawn for a real report of that split
(`pairing.ReportCatalog`), rendered once and cached under
`<cache_dir>/radiology/pools/<hash>.pt`; the hash covers the pool settings, the paired reports
and the lung masks, so any change renders a new pool.

Usage:
    corpus = RadiologyCorpus.load(cache_dir)
    pool = load_pool(cache_dir, corpus, PoolConfig("train", size=1500, image_size=128),
                     console=Console())
    batches = TrainingBatches(pool, batch_size=16, seed=0)
    batch = batches.batch(0)              # augmented pixel_values, targets, aux targets
    pixels = eval_pixels(pool, range(8))  # resize + normalise only
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from state.errors import AssetError, ConfigError
from tools.radiology.assets import ensure_radiology_data
from tools.radiology.augment import EvalTransform, TrainTransform
from tools.radiology.conditions import CONDITIONS
from tools.radiology.lung_masks import LungMaskSet
from tools.radiology.pairing import (
    PairableReport,
    PhantomPair,
    ReportCatalog,
    pairable_reports,
    report_conditions,
)
from tools.radiology.phantom_spec import PhantomSpec
from tools.radiology.phantoms import make_phantom
from tools.radiology.report_text import report_target
from tools.radiology.reports import IUReport, load_iu_reports
from tools.radiology.splits import Splits, patient_split

SplitName = Literal["train", "validation", "test"]
POOL_FORMAT = 2


@dataclass(frozen=True, eq=False)
class RadiologyCorpus:
    """The real IU reports, their patient-level split and the lung masks phantoms are drawn on."""

    reports: tuple[IUReport, ...]
    splits: Splits[IUReport]
    masks: LungMaskSet
    split_seed: int
    _pairable: dict[str, tuple[PairableReport, ...]] = field(default_factory=dict, repr=False)

    @classmethod
    def load(cls, cache_dir: Path, split_seed: int = 42) -> RadiologyCorpus:
        """Fetch the data if needed (`ensure_radiology_data`) and split the reports by patient."""
        files = ensure_radiology_data(cache_dir)
        reports = tuple(load_iu_reports(files.reports_tgz))
        return cls(
            reports=reports,
            splits=patient_split(reports, key=lambda r: r.uid, seed=split_seed),
            masks=LungMaskSet(files.lung_masks_zip),
            split_seed=split_seed,
        )

    def report_texts(self) -> list[str]:
        """Every report's cleaned target text: what the fallback report tokenizer is trained on."""
        return [report_target(report) for report in self.reports]

    def pairable(self, split: SplitName) -> tuple[PairableReport, ...]:
        """The reports of a split that a phantom can be drawn for (labelled once, then kept)."""
        if split not in self._pairable:
            self._pairable[split] = tuple(pairable_reports(getattr(self.splits, split)))
        return self._pairable[split]

    def masks_digest(self) -> str:
        """Identifies the lung-mask set (file name, size and mask count)."""
        path = self.masks.zip_path
        return f"{path.name}:{path.stat().st_size}:{len(self.masks)}"


@dataclass(frozen=True)
class PoolConfig:
    """Which phantoms a pool holds: split, count, image side, draw seed and report choice."""

    split: SplitName
    size: int
    image_size: int
    seed: int = 0
    reports_per_set: int | None = None
    min_words: int = 12
    temper: float = 0.5

    def __post_init__(self) -> None:
        if self.split not in ("train", "validation", "test"):
            raise ConfigError(f"unknown split {self.split!r}")
        if self.size < 1:
            raise ConfigError(f"a pool needs at least one phantom, got {self.size}")

    def catalog(self, corpus: RadiologyCorpus) -> ReportCatalog:
        """The report catalog this pool draws from."""
        return ReportCatalog(
            corpus.pairable(self.split),
            reports_per_set=self.reports_per_set,
            min_words=self.min_words,
            temper=self.temper,
        )

    def key(self, corpus: RadiologyCorpus) -> str:
        """Cache key: the settings, the pairable reports of the split and the lung masks."""
        digest = hashlib.sha256(json.dumps([POOL_FORMAT, asdict(self)]).encode())
        digest.update(f"{corpus.split_seed}|{corpus.masks_digest()}".encode())
        for report in corpus.pairable(self.split):
            digest.update(f"{report.uid}\0{report.target}\0".encode())
        return digest.hexdigest()[:16]


@dataclass(frozen=True)
class PhantomPool:
    """Rendered phantoms with their findings and the real reports they are paired with."""

    config: PoolConfig
    images: torch.Tensor  # uint8 [N, S, S]
    findings: tuple[str, ...]  # PhantomSpec strings
    seeds: tuple[int, ...]
    report_uids: tuple[str, ...]
    targets: tuple[str, ...]
    aux_targets: torch.Tensor  # [N, 14]: binary labeller labels of each target

    def __len__(self) -> int:
        return len(self.findings)

    def spec(self, index: int) -> PhantomSpec:
        """The findings of phantom `index`."""
        return PhantomSpec.parse(self.findings[index])

    def true_conditions(self) -> list[frozenset[str]]:
        """The conditions each phantom shows."""
        return [frozenset(self.spec(i).conditions()) for i in range(len(self))]

    def image(self, index: int) -> torch.Tensor:
        """Phantom `index` as a float (1, S, S) image in [0, 1]."""
        return self.images[index][None].float() / 255.0

    def to_dict(self) -> dict[str, Any]:
        """Plain tensors, strings and numbers (loadable with `weights_only=True`)."""
        return {
            "format": POOL_FORMAT,
            "config": asdict(self.config),
            "images": self.images,
            "findings": list(self.findings),
            "seeds": list(self.seeds),
            "report_uids": list(self.report_uids),
            "targets": list(self.targets),
            "aux_targets": self.aux_targets,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PhantomPool:
        """Rebuild a pool written by `to_dict`."""
        if data.get("format") != POOL_FORMAT:
            raise AssetError(f"phantom pool format {data.get('format')} is not {POOL_FORMAT}")
        return cls(
            config=PoolConfig(**data["config"]),
            images=data["images"],
            findings=tuple(data["findings"]),
            seeds=tuple(data["seeds"]),
            report_uids=tuple(data["report_uids"]),
            targets=tuple(data["targets"]),
            aux_targets=data["aux_targets"],
        )


def binary_targets(texts: Sequence[str]) -> torch.Tensor:
    """Auxiliary targets [N, 14] (spec §7.3: binary labels from the labeller): 1 for each
    condition a report states (`pairing.report_conditions`, so a consolidation is also a lung
    opacity), else 0. Paired reports hold no uncertain mentions, so for them these are exactly
    the phantom's findings."""
    rows = [report_conditions(text) for text in texts]
    return torch.tensor([[c in row for c in CONDITIONS] for row in rows], dtype=torch.float32)


def draw_pairs(config: PoolConfig, corpus: RadiologyCorpus) -> list[PhantomPair]:
    """The pool's phantom–report pairs, without rendering (deterministic from `config.seed`)."""
    catalog = config.catalog(corpus)
    split_stream = ("train", "validation", "test").index(config.split)
    rng = np.random.default_rng([config.seed, split_stream])
    return [catalog.draw(rng) for _ in range(config.size)]


def build_pool(
    config: PoolConfig, corpus: RadiologyCorpus, console: Console | None = None
) -> PhantomPool:
    """Draw and render the pool's phantoms."""
    return render_pairs(config, draw_pairs(config, corpus), corpus.masks, console)


def render_pairs(
    config: PoolConfig,
    pairs: Sequence[PhantomPair],
    masks: LungMaskSet,
    console: Console | None = None,
) -> PhantomPool:
    """Render given phantom–report pairs at `config.image_size` into a pool."""
    images = torch.empty((len(pairs), config.image_size, config.image_size), dtype=torch.uint8)
    with Progress(
        TextColumn(f"rendering {config.split} phantoms"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
        disable=console is None,
    ) as progress:
        task = progress.add_task("render", total=len(pairs))
        for index, pair in enumerate(pairs):
            phantom = make_phantom(pair.spec, pair.seed, config.image_size, masks)
            images[index] = torch.from_numpy(np.round(phantom.image * 255).astype(np.uint8))
            progress.advance(task)
    return PhantomPool(
        config=config,
        images=images,
        findings=tuple(str(pair.spec) for pair in pairs),
        seeds=tuple(pair.seed for pair in pairs),
        report_uids=tuple(pair.report_uid for pair in pairs),
        targets=tuple(pair.target for pair in pairs),
        aux_targets=binary_targets([pair.target for pair in pairs]),
    )


def pool_path(cache_dir: Path, config: PoolConfig, corpus: RadiologyCorpus) -> Path:
    """Where the pool for `config` is cached."""
    return cache_dir / "radiology" / "pools" / f"{config.key(corpus)}.pt"


def load_pool(
    cache_dir: Path,
    corpus: RadiologyCorpus,
    config: PoolConfig,
    console: Console | None = None,
) -> PhantomPool:
    """The cached pool for `config`, rendered and written first when it is not cached yet."""
    path = pool_path(cache_dir, config, corpus)
    if path.is_file():
        try:
            return PhantomPool.from_dict(torch.load(path, weights_only=True))
        except (OSError, RuntimeError, KeyError, TypeError) as exc:
            raise AssetError(f"phantom pool {path} is unreadable ({exc}); delete it") from exc
    pool = build_pool(config, corpus, console)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, staging = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}-", suffix=".pt")
    os.close(handle)
    try:
        torch.save(pool.to_dict(), staging)
        os.replace(staging, path)
    finally:
        Path(staging).unlink(missing_ok=True)
    return pool


@dataclass(frozen=True)
class Batch:
    """One micro-batch: normalised images, target texts and auxiliary targets."""

    pixel_values: torch.Tensor  # [B, 3, S, S]
    targets: list[str]
    aux_targets: torch.Tensor  # [B, 14]
    indices: list[int]


class TrainingBatches:
    """Shuffled, augmented micro-batches, each a pure function of its index and the seed.

    Micro-batch `i` covers positions `i·B … i·B+B−1` of an endless sequence of epochs, each a
    fresh permutation of the pool; every image gets its own seeded augmentation draw. So a
    resumed run sees exactly the batches the uninterrupted run would have seen. Within each
    window of `window` micro-batches the phantoms are grouped by target length (and the
    groups shuffled), so that short reports are not padded to the longest of the epoch.
    """

    def __init__(self, pool: PhantomPool, batch_size: int, seed: int, window: int = 8) -> None:
        if batch_size < 1 or window < 1:
            raise ConfigError(f"batch size and window must be >= 1, got {batch_size}, {window}")
        self.pool = pool
        self.batch_size = batch_size
        self.seed = seed
        self.window = window
        self.transform = TrainTransform(pool.config.image_size, seed=seed)
        self._orders: dict[int, list[int]] = {}

    def _order(self, epoch: int) -> list[int]:
        if epoch not in self._orders:
            if len(self._orders) > 1:
                self._orders.pop(min(self._orders))
            generator = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
            shuffled = torch.randperm(len(self.pool), generator=generator).tolist()
            span = self.batch_size * self.window
            order: list[int] = []
            for start in range(0, len(shuffled), span):
                by_length = sorted(
                    shuffled[start : start + span], key=lambda i: len(self.pool.targets[i])
                )
                groups = [
                    by_length[g : g + self.batch_size]
                    for g in range(0, len(by_length), self.batch_size)
                ]
                for g in torch.randperm(len(groups), generator=generator).tolist():
                    order += groups[g]
            self._orders[epoch] = order
        return self._orders[epoch]

    def positions(self, index: int) -> list[tuple[int, int]]:
        """(epoch, pool index) for each image of micro-batch `index`."""
        size = len(self.pool)
        flat = range(index * self.batch_size, (index + 1) * self.batch_size)
        return [(p // size, self._order(p // size)[p % size]) for p in flat]

    def batch(self, index: int) -> Batch:
        """Micro-batch `index`."""
        images, indices = [], []
        for epoch, item in self.positions(index):
            generator = torch.Generator().manual_seed(
                (self.seed * 1_000_003 + epoch) * 1_000_033 + item
            )
            images.append(self.transform(self.pool.image(item), generator))
            indices.append(item)
        return Batch(
            pixel_values=torch.stack(images),
            targets=[self.pool.targets[i] for i in indices],
            aux_targets=self.pool.aux_targets[indices],
            indices=indices,
        )


def eval_pixels(pool: PhantomPool, indices: Iterable[int]) -> torch.Tensor:
    """Images of the pool for evaluation: resized and normalised, never augmented."""
    transform = EvalTransform(pool.config.image_size)
    return torch.stack([transform(pool.image(i)) for i in indices])
