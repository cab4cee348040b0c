"""The radiology tool as a process-wide service: find the checkpoint, load it once, batch requests.

The checkpoint loads on the first request, through the model registry (so it is loaded once per
process, on `cuda` when there is one, in bf16 there). Images are read and checked in the
caller's thread, so a bad file fails its own request only; requests that arrive within a few
milliseconds of each other share one batched beam search; each caller then writes its own
heatmaps.

Usage:
    service = RadiologyService(registry, lambda: find_checkpoint(None, cache_dir), heatmap_root)
    report = service.report(Path("cxr.png"))          # thread-safe; concurrent calls batch
    service.close()
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path

import torch

from state.errors import AssetError
from tools.models.batcher import MicroBatcher
from tools.models.registry import ModelRegistry
from tools.radiology.decoder import GenerationSettings
from tools.radiology.inference import Prediction, PreparedImage, RadiologyInference
from tools.radiology.report_schema import RadiologyReport
from tools.radiology.weights import CARD_FILE, CONFIG_FILE, WEIGHTS_FILE

DEMO_MODEL_DIR = Path(__file__).parent / "demo_model"
BUILD_HINT = (
    "build the demo model with `medgraph radiology train --demo` (the tiny config trained "
    "on synthetic phantoms, up to about 15 minutes on 2 CPU cores)"
)


def demo_checkpoint_dir(cache_dir: Path) -> Path:
    """Where `medgraph radiology train --demo` writes its checkpoint."""
    return cache_dir / "radiology" / "checkpoints" / "demo"


def is_checkpoint(path: Path) -> bool:
    """Whether `path` is a folder written by `save_checkpoint`."""
    return all((path / name).is_file() for name in (WEIGHTS_FILE, CONFIG_FILE, CARD_FILE))


def checkpoint_candidates(configured: Path | None, cache_dir: Path) -> list[Path]:
    """Where a checkpoint is looked for, in order: the configured one, else the two demo ones."""
    if configured is not None:
        return [configured]
    return [demo_checkpoint_dir(cache_dir), DEMO_MODEL_DIR]


def find_checkpoint(configured: Path | None, cache_dir: Path) -> Path:
    """The checkpoint to serve: the configured one, else the cached demo, else the packaged one."""
    candidates = checkpoint_candidates(configured, cache_dir)
    for candidate in candidates:
        if is_checkpoint(candidate):
            return candidate
    if configured is not None:
        raise AssetError(f"the configured radiology checkpoint {configured} is not a checkpoint")
    raise AssetError(
        "no radiology model checkpoint was found (looked in "
        + " and ".join(str(c) for c in candidates)
        + f"); {BUILD_HINT}"
    )


class RadiologyService:
    """Thread-safe reports from one checkpoint, loaded on first use and batched across callers.

    `threads` (0 = torch's default) is the torch thread count of the batching worker only. One
    thread suits the tiny model: on a busy 2-core machine two made it 10–50× slower.

    `checkpoint` is a folder, or a function that finds one (called on each request until it
    succeeds, so a model built after start-up is picked up; it raises `AssetError` meanwhile).
    """

    def __init__(
        self,
        registry: ModelRegistry,
        checkpoint: Path | Callable[[], Path],
        heatmap_root: Path,
        *,
        generation: GenerationSettings | None = None,
        max_batch: int = 8,
        window_s: float = 0.005,
        threads: int = 0,
    ) -> None:
        self._registry = registry
        self._threads = threads
        self._locate = checkpoint if callable(checkpoint) else lambda: checkpoint
        self.heatmap_root = heatmap_root
        self._generation = generation or GenerationSettings()
        self._max_batch = max_batch
        self._window_s = window_s
        self._engine: RadiologyInference | None = None
        self._batcher: MicroBatcher[PreparedImage, Prediction] | None = None
        self._lock = threading.Lock()

    def registry_key(self, checkpoint: Path) -> str:
        """The registry name of a checkpoint with these decoding settings."""
        g = self._generation
        return f"radiology:{checkpoint.resolve()}:beams{g.num_beams}:max{g.max_new_tokens}"

    def engine(self) -> RadiologyInference:
        """The loaded model (found and loaded through the registry on the first call)."""
        if self._engine is None:
            path = self._locate()
            self._engine = self._registry.get(
                self.registry_key(path),
                lambda device: RadiologyInference.load(path, device, self._generation),
            )
        return self._engine

    def _queue(self) -> MicroBatcher[PreparedImage, Prediction]:
        with self._lock:
            if self._batcher is None:
                engine = self.engine()
                self._batcher = MicroBatcher(
                    partial(self._predict, engine),
                    max_batch=self._max_batch,
                    window_s=self._window_s,
                    name="radiology-batcher",
                )
            return self._batcher

    def _predict(
        self, engine: RadiologyInference, images: Sequence[PreparedImage]
    ) -> list[Prediction]:
        """Run in the worker thread; torch's thread count is per thread, so it is set here."""
        if self._threads and torch.get_num_threads() != self._threads:
            torch.set_num_threads(self._threads)
        return engine.predict(images)

    def report(self, path: Path) -> RadiologyReport:
        """Report one image file; bad input raises `InputError` before any model work."""
        engine = self.engine()
        prepared = engine.prepare(path)
        prediction = self._queue().submit(prepared).result()
        return engine.report(prepared, prediction, self.heatmap_root)

    def reports(self, paths: Sequence[Path]) -> list[RadiologyReport]:
        """Report several images in one batch (each is checked first)."""
        engine = self.engine()
        prepared = [engine.prepare(path) for path in paths]
        futures = [self._queue().submit(image) for image in prepared]
        return [
            engine.report(image, future.result(), self.heatmap_root)
            for image, future in zip(prepared, futures, strict=True)
        ]

    @property
    def batch_sizes(self) -> list[int]:
        """Sizes of the batches run so far (for tests and benchmarks)."""
        return list(self._batcher.batch_sizes) if self._batcher is not None else []

    def close(self) -> None:
        """Stop the batching worker (the model stays in the registry)."""
        with self._lock:
            if self._batcher is not None:
                self._batcher.close()
                self._batcher = None
