"""Load each local torch model once per process, on the best device, and report what it cost.

Usage:
    registry = ModelRegistry(device_preference="auto")
    embedder = registry.get("minilm", lambda device: MiniLMEmbedder.load(device=device))
    print(registry.reports()["minilm"].load_seconds)
"""

from __future__ import annotations

import resource
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, TypeVar, cast

import torch

from state.errors import ConfigError

DevicePreference = Literal["auto", "cpu", "cuda"]
T = TypeVar("T")


def pick_device(preference: DevicePreference = "auto") -> torch.device:
    """`cuda` when asked for or available under `auto`, else `cpu`; asking for absent CUDA fails."""
    if preference == "cuda" and not torch.cuda.is_available():
        raise ConfigError("MEDGRAPH_LOCAL_DEVICE=cuda but no CUDA device is available")
    if preference in ("auto", "cuda") and torch.cuda.is_available():
        return torch.device("cuda")
    return torch.device("cpu")


def preferred_dtype(device: torch.device) -> torch.dtype:
    """bf16 on GPUs that support it, fp16 on older GPUs, fp32 on CPU."""
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.float32


@dataclass(frozen=True)
class LoadReport:
    """What loading one model cost: device, wall time and memory."""

    name: str
    device: str
    load_seconds: float
    rss_delta_mb: float
    gpu_memory_mb: float


def _max_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


class ModelRegistry:
    """A thread-safe, per-process cache of loaded models keyed by name."""

    def __init__(self, device_preference: DevicePreference = "auto") -> None:
        self.device = pick_device(device_preference)
        self._models: dict[str, object] = {}
        self._reports: dict[str, LoadReport] = {}
        self._lock = threading.Lock()

    def get(self, name: str, loader: Callable[[torch.device], T]) -> T:
        """Return the model called `name`, calling `loader(device)` the first time only."""
        with self._lock:
            if name in self._models:
                return cast(T, self._models[name])
            rss_before = _max_rss_mb()
            gpu_before = torch.cuda.memory_allocated() if self.device.type == "cuda" else 0
            started = time.perf_counter()
            model = loader(self.device)
            elapsed = time.perf_counter() - started
            gpu_after = torch.cuda.memory_allocated() if self.device.type == "cuda" else 0
            self._models[name] = model
            self._reports[name] = LoadReport(
                name=name,
                device=str(self.device),
                load_seconds=elapsed,
                rss_delta_mb=max(0.0, _max_rss_mb() - rss_before),
                gpu_memory_mb=(gpu_after - gpu_before) / 2**20,
            )
            return model

    def loaded(self, name: str) -> bool:
        """Whether `name` has been loaded in this process."""
        return name in self._models

    def reports(self) -> dict[str, LoadReport]:
        """Load reports of every model loaded so far."""
        return dict(self._reports)
