"""Radiology VLM speed: tiny config on the CPU at batch 1 and 8, and the full config on a GPU.

`python -m benchmarks radiology`. Every generation writes exactly `NEW_TOKENS` tokens (min =
max), so batch sizes do the same work per image whatever the weights; beam search as in spec
§4.6 (4 beams, no repeated trigram). The tiny rows run on ONE torch thread: on a shared 2-core
machine two OpenMP threads made the tiny model 10–50× slower (0.14 s vs 4–13 s per batch-1
report), since its matrices are too small to split and the threads wait on each other. Rows:
- tiny, batch 1 (the baseline): one image per `generate` call;
- tiny, batch 8: eight stacked images per call (what the service's queue builds);
- tiny, 8 concurrent callers through `RadiologyService` (its micro-batching), with heatmaps;
- tiny, one report end to end: read the PNG, generate, write 20 overlays (p50/p95 latency);
- full config (spec sizes, random init): a bf16 forward + backward step and generation
  throughput at batch 8, only when CUDA is available; otherwise the row says "no GPU".
"""

from __future__ import annotations

import os
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from rich.console import Console
from rich.table import Table

from benchmarks.machine import describe
from tools.models.registry import ModelRegistry, preferred_dtype
from tools.radiology.config import CheXQueryConfig
from tools.radiology.decoder import GenerationSettings
from tools.radiology.inference import RadiologyInference
from tools.radiology.model import CheXQueryMedVLM
from tools.radiology.service import RadiologyService
from tools.radiology.tokenizer import train_report_tokenizer
from tools.radiology.weights import ModelCard, RadiologyModel, save_checkpoint

NEW_TOKENS = 48
TINY_THREADS = 1
ROUNDS = 5
BATCH = 8
SINGLE_IMAGES = 16
DECODING = GenerationSettings(min_new_tokens=NEW_TOKENS, max_new_tokens=NEW_TOKENS)
CORPUS = [
    "Findings: The heart is normal in size. The lungs are clear. | Impression: Normal chest.",
    "Findings: Small left pleural effusion. Mild cardiomegaly. | Impression: Left effusion.",
    "Findings: Right lower lobe consolidation. No pneumothorax. | Impression: Pneumonia.",
] * 20


@dataclass
class Row:
    """One measured configuration."""

    name: str
    images: int = 0
    seconds: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    note: str = ""

    @property
    def images_per_s(self) -> float | None:
        return self.images / self.seconds if self.seconds else None

    def pct(self, q: float) -> float | None:
        if not self.latencies_ms:
            return None
        return float(np.percentile(self.latencies_ms, q))


def _tiny_checkpoint(folder: Path) -> Path:
    tokenizer = train_report_tokenizer(CORPUS, vocab_size=600)
    torch.manual_seed(0)
    model = CheXQueryMedVLM(CheXQueryConfig.tiny(vocab_size=len(tokenizer)))
    card = ModelCard("bench-tiny", "tiny", False, False, "minilm", "iu-unigram")
    return save_checkpoint(RadiologyModel(model, tokenizer, card), folder / "tiny")


def _films(folder: Path, count: int, size: int) -> list[Path]:
    """Smooth film-like PNGs (a bright mediastinum, darker lungs, light noise)."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:size, 0:size] / size
    paths = []
    for index in range(count):
        lungs = np.exp(-(((np.abs(xx - 0.5) - 0.2) / 0.12) ** 2 + ((yy - 0.45) / 0.3) ** 2))
        film = 0.75 - 0.45 * lungs + 0.02 * rng.standard_normal((size, size)) + 0.01 * index
        path = folder / f"film{index}.png"
        Image.fromarray(np.round(np.clip(film, 0, 1) * 255).astype(np.uint8)).save(path)
        paths.append(path)
    return paths


def _timed(call: Callable[[], object], repeats: int) -> list[float]:
    call()  # warm-up
    out = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        out.append((time.perf_counter() - started) * 1000)
    return out


def tiny_rows(folder: Path) -> list[Row]:
    """The CPU rows: batch 1 baseline, batch 8, the service's batching, one report end to end."""
    torch.set_num_threads(TINY_THREADS)
    checkpoint = _tiny_checkpoint(folder)
    device = torch.device("cpu")
    engine = RadiologyInference.load(checkpoint, device, DECODING)
    films = _films(folder, BATCH, 256)
    prepared = [engine.prepare(f) for f in films]

    single = Row("tiny · batch 1 (baseline)")
    single.latencies_ms = _timed(lambda: engine.predict(prepared[:1]), SINGLE_IMAGES)
    single.images, single.seconds = len(single.latencies_ms), sum(single.latencies_ms) / 1000

    batched = Row(f"tiny · batch {BATCH}")
    batched.latencies_ms = _timed(lambda: engine.predict(prepared), ROUNDS)
    batched.images = BATCH * len(batched.latencies_ms)
    batched.seconds = sum(batched.latencies_ms) / 1000
    batched.note = "latency = one batch"

    service = RadiologyService(
        ModelRegistry("cpu"),
        checkpoint,
        folder / "heat",
        generation=DECODING,
        window_s=0.02,
        threads=TINY_THREADS,
    )
    service.report(films[0])  # load and warm up
    served = Row(f"tiny · service, {BATCH} concurrent callers")
    for _ in range(ROUNDS):
        latencies: list[float] = []
        lock = threading.Lock()

        def ask(path: Path, sink: list[float] = latencies, guard: threading.Lock = lock) -> None:
            started = time.perf_counter()
            service.report(path)
            with guard:
                sink.append((time.perf_counter() - started) * 1000)

        threads = [threading.Thread(target=ask, args=(f,)) for f in films]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        served.seconds += time.perf_counter() - started
        served.images += len(films)
        served.latencies_ms += latencies
    sizes = service.batch_sizes
    service.close()
    served.note = f"batches of {statistics.median(sizes[1:]):.0f}; incl. 20 PNG overlays each"

    report = Row("tiny · one report end to end (batch 1)")
    report.latencies_ms = _timed(lambda: engine.run(films[0], folder / "heat1"), SINGLE_IMAGES)
    report.images, report.seconds = len(report.latencies_ms), sum(report.latencies_ms) / 1000
    report.note = "read PNG + generate + 20 overlays"
    return [single, batched, served, report]


def step_rows(config: CheXQueryConfig, device: torch.device, dtype: torch.dtype) -> list[Row]:
    """One training step (phase 2: LoRA on both backbones) and batched generation."""
    label = f"{config.name} · {str(dtype).removeprefix('torch.')}"
    torch.manual_seed(0)
    model = CheXQueryMedVLM(config).to(device)
    model.set_phase(2)
    side = config.image_size
    pixels = torch.randn(BATCH, 3, side, side, device=device)
    decoder_ids = torch.randint(2, config.text.vocab_size, (BATCH, 96), device=device)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-5)

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize()

    def step() -> None:
        with torch.autocast(device.type, dtype=dtype):
            loss = model(pixels, decoder_input_ids=decoder_ids, labels=decoder_ids).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        sync()

    train = Row(f"{label} forward + backward step (batch {BATCH}, 96 tokens)")
    train.latencies_ms = _timed(step, ROUNDS * 3)
    train.images, train.seconds = BATCH * len(train.latencies_ms), sum(train.latencies_ms) / 1000
    if device.type == "cuda":
        train.note = f"peak {torch.cuda.max_memory_allocated() / 2**30:.1f} GiB"

    model.eval().to(dtype)
    prefix = torch.full((BATCH, 1), model.decoder.start_token_id, dtype=torch.long, device=device)

    def generate() -> None:
        model.generate(pixels.to(dtype), prefix, DECODING)
        sync()

    gen = Row(f"{label} generate (batch {BATCH}, 4 beams)")
    gen.latencies_ms = _timed(generate, ROUNDS)
    gen.images, gen.seconds = BATCH * len(gen.latencies_ms), sum(gen.latencies_ms) / 1000
    gen.note = f"{BATCH * NEW_TOKENS / (statistics.median(gen.latencies_ms) / 1000):.0f} tokens/s"
    return [train, gen]


def full_gpu_rows() -> list[Row]:
    """The full (spec-size) config on CUDA in bf16, or rows saying there is no GPU."""
    if not torch.cuda.is_available():
        return [Row("full · forward + backward step, generate", note="no GPU")]
    device = torch.device("cuda")
    return step_rows(CheXQueryConfig.full(), device, preferred_dtype(device))


def _fmt(value: float | None, spec: str) -> str:
    return "—" if value is None else format(value, spec)


def main() -> None:
    """Measure and print the table."""
    threads = torch.get_num_threads()
    with tempfile.TemporaryDirectory() as tmp:
        rows = tiny_rows(Path(tmp))
    torch.set_num_threads(threads)
    rows += full_gpu_rows()
    baseline = rows[0].images_per_s
    table = Table(
        title=f"CheXQuery-MedVLM speed ({NEW_TOKENS} new tokens per report, beam 4)",
        caption=(
            f"{describe()}; torch {torch.__version__}; load average at end "
            f"{os.getloadavg()[0]:.1f}; tiny rows on {TINY_THREADS} torch thread; "
            "ratio = images/s over the batch-1 baseline"
        ),
    )
    for column in ("configuration", "images/s", "ratio", "p50 ms", "p95 ms", "note"):
        table.add_column(column, justify="left" if column in ("configuration", "note") else "right")
    for row in rows:
        speed = row.images_per_s
        comparable = speed is not None and baseline and row.name.startswith("tiny")
        ratio = speed / baseline if comparable else None
        table.add_row(
            row.name,
            _fmt(speed, ".2f"),
            _fmt(ratio, ".2f"),
            _fmt(row.pct(50), ".0f"),
            _fmt(row.pct(95), ".0f"),
            row.note,
        )
    Console().print(table)


if __name__ == "__main__":
    main()
