"""Greedy decode speed and quality of the embedded LLM variants vs transformers and llama.cpp.

Every variant decodes the same prompt token ids greedily with the same thread count; rounds are
interleaved across variants so that load from other processes hits them alike. llama.cpp runs
through `llama-cpp-python` in its own virtualenv (`<cache_dir>/bench-venv`, built on first use).
Quality is judged two ways: greedy tokens identical to the fp32 engine's (strict: one flipped
near-tie changes everything after it), and perplexity on held-out text (`PPL_TEXT`, the project's
demo RAG corpus, first `PPL_TOKENS` tokens), which is fair to quantisation.
"""

from __future__ import annotations

import itertools
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import torch
from rich.console import Console
from rich.table import Table

from app.settings import get_settings
from benchmarks.machine import describe
from tools.llm.engine import DecodeOptions, LocalLLM
from tools.llm.gguf_weights import conversion_seconds, ensure_weights, gguf_file
from tools.llm.perplexity import perplexity

N_TOKENS = 64
ROUNDS = 3
CHECK_TOKENS = 32
PPL_TEXT = Path(__file__).parents[1] / "tools" / "rag" / "demo_corpus" / "chest_radiograph_guide.md"
PPL_TOKENS = 1024
RERANK = 8
SPEED_PROMPT = "The heart is a muscular organ that pumps blood through the body. It"
CHECK_PROMPTS = (
    "A chest radiograph showed a small left pleural effusion. The",
    "Patients with type 2 diabetes should monitor",
    "The capital of France is Paris. The capital of Germany is",
    "Question: What is the largest organ of the human body?\nAnswer:",
)

_LLAMA_SCRIPT = r"""
import json, sys, time
from llama_cpp import Llama
job = json.load(sys.stdin)
started = time.perf_counter()
llm = Llama(model_path=job["model"], n_threads=job["threads"], n_threads_batch=job["threads"],
            n_ctx=512, verbose=False)
load_s = time.perf_counter() - started
def run(ids, n):
    llm.reset()
    stamps, out = [], []
    t0 = time.perf_counter()
    for token in llm.generate(ids, top_k=1, temp=0.0, reset=True):
        stamps.append(time.perf_counter() - t0)
        out.append(token)
        if len(out) == n:
            break
    return stamps, out
result = {"load_s": load_s, "checks": []}
if job["speed"]:
    result["stamps"], _ = run(job["speed_ids"], job["n_tokens"])
for ids in job["checks"]:
    result["checks"].append(run(ids, job["check_tokens"])[1])
print(json.dumps(result))
"""


@dataclass
class Row:
    """Measurements of one variant."""

    name: str
    load_s: float | None = None
    ttft_ms: list[float] = field(default_factory=list)
    tok_s: list[float] = field(default_factory=list)
    step_ms: list[float] = field(default_factory=list)
    checks: list[list[int]] = field(default_factory=list)
    note: str = ""

    def add_run(self, stamps: list[float]) -> None:
        """Record one timed run from per-token timestamps (seconds since the call)."""
        self.ttft_ms.append(stamps[0] * 1000)
        steps = [b - a for a, b in itertools.pairwise(stamps)]
        self.step_ms += [s * 1000 for s in steps]
        self.tok_s.append(len(steps) / sum(steps))

    @property
    def speed(self) -> float | None:
        """Median decode tokens/s over the rounds."""
        return statistics.median(self.tok_s) if self.tok_s else None


def _timed(tokens: Iterator[int], limit: int) -> tuple[list[float], list[int]]:
    start = time.perf_counter()
    stamps, out = [], []
    for token in tokens:
        stamps.append(time.perf_counter() - start)
        out.append(token)
        if len(out) == limit:
            break
    return stamps, out


def _engine_runner(llm: LocalLLM, rerank: int) -> Callable[[list[int], int], Iterator[int]]:
    def run(ids: list[int], n: int) -> Iterator[int]:
        llm.head.rerank = rerank
        return llm.tokens(ids, DecodeOptions(max_tokens=n), None)

    return run


def _transformers_runner(weights: Path) -> tuple[Callable[[list[int], int], Iterator[int]], float]:
    from transformers import AutoModelForCausalLM
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    started = time.perf_counter()
    model = AutoModelForCausalLM.from_pretrained(weights, local_files_only=True).eval()
    load_s = time.perf_counter() - started

    def run(ids: list[int], n: int) -> Iterator[int]:
        with torch.inference_mode():
            past = None
            inputs = torch.tensor([ids])
            for _ in range(n):
                out = model(input_ids=inputs, past_key_values=past, use_cache=True)
                past = out.past_key_values
                token = int(out.logits[0, -1].argmax())
                yield token
                inputs = torch.tensor([[token]])

    return run, load_s


def llama_cmake_args(cpuinfo: Path = Path("/proc/cpuinfo")) -> str:
    """llama.cpp build flags for exactly the instruction sets the kernel lists.

    A default build picks its CPU kernels by `cpuid`, which in a VM can report features the
    guest may not use: on these machines it died with SIGSEGV, and a build with AVX-512 forced
    on died with SIGILL on a host whose flags list only AVX2.
    """
    text = cpuinfo.read_text(encoding="utf-8", errors="replace") if cpuinfo.exists() else ""
    flags = set(next((ln for ln in text.splitlines() if ln.startswith("flags")), "").split())
    wanted = {
        "AVX": "avx",
        "AVX2": "avx2",
        "FMA": "fma",
        "F16C": "f16c",
        "AVX_VNNI": "avx_vnni",
        "AVX512": "avx512f",
        "AVX512_VBMI": "avx512vbmi",
        "AVX512_VNNI": "avx512_vnni",
        "AVX512_BF16": "avx512_bf16",
    }
    switches = [f"-DGGML_{name}={'ON' if f in flags else 'OFF'}" for name, f in wanted.items()]
    return " ".join(["-DGGML_NATIVE=OFF", *switches])


def _bench_python(cache_dir: Path, console: Console) -> Path | None:
    venv = cache_dir / "bench-venv"
    python = venv / "bin" / "python"
    if python.exists():
        return python
    console.print("[yellow]Building llama-cpp-python in a benchmark venv (compiles; minutes)...")
    env = {**os.environ, "CMAKE_ARGS": llama_cmake_args(), "CMAKE_BUILD_PARALLEL_LEVEL": "2"}
    try:
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", "--no-cache-dir", "llama-cpp-python"],
            check=True,
            env=env,
        )
    except (OSError, subprocess.CalledProcessError) as exc:
        console.print(f"[red]llama-cpp-python could not be installed: {exc}")
        return None
    return python


def _llama_cpp(python: Path, job: dict[str, object]) -> dict[str, object]:
    done = subprocess.run(
        [str(python), "-c", _LLAMA_SCRIPT],
        input=json.dumps(job),
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def _agreement(row: Row, reference: Row) -> str:
    if not row.checks or not reference.checks:
        return "-"
    same = 0
    for got, want in zip(row.checks, reference.checks, strict=True):
        prefix = 0
        while prefix < min(len(got), len(want)) and got[prefix] == want[prefix]:
            prefix += 1
        same += prefix
    total = sum(len(w) for w in reference.checks)
    return f"{same}/{total}"


def main() -> None:
    """Load every variant, decode the same prompt greedily in interleaved rounds, print a table."""
    console = Console(width=180)
    settings = get_settings()
    threads = settings.local_llm_threads or torch.get_num_threads()
    torch.set_num_threads(threads)
    cache_dir = settings.cache_dir
    cold_recorded = conversion_seconds(cache_dir)
    started = time.perf_counter()
    weights = ensure_weights(cache_dir, console)
    cold_s = cold_recorded if cold_recorded is not None else time.perf_counter() - started
    cpu = torch.device("cpu")

    rows: dict[str, Row] = {}
    runners: dict[str, Callable[[list[int], int], Iterator[int]]] = {}
    hf_run, hf_load = _transformers_runner(weights)
    rows["hf"] = Row("transformers fp32 (DATA.md baseline)", load_s=hf_load)
    runners["hf"] = hf_run
    started = time.perf_counter()
    fp32 = LocalLLM.load(weights, cpu, quantize=False)
    rows["fp32"] = Row("engine fp32", load_s=time.perf_counter() - started)
    runners["fp32"] = _engine_runner(fp32, 0)
    started = time.perf_counter()
    int8 = LocalLLM.load(weights, cpu, quantize=True)
    warm_s = time.perf_counter() - started
    rows["int8"] = Row("engine int8, int8 head argmax", load_s=warm_s)
    runners["int8"] = _engine_runner(int8, 0)
    rows["best"] = Row(f"engine int8 + fp32 rerank of top-{RERANK} (default)", load_s=warm_s)
    runners["best"] = _engine_runner(int8, RERANK)
    rows["llama"] = Row("llama.cpp (llama-cpp-python, same GGUF)")

    def encode(text: str) -> list[int]:
        return [int8.bos, *int8.encode_text(text)]

    speed_ids = encode(SPEED_PROMPT)
    check_ids = [encode(p) for p in CHECK_PROMPTS]
    python = _bench_python(cache_dir, console)
    job: dict[str, object] = {
        "model": str(gguf_file(cache_dir)),
        "threads": threads,
        "speed_ids": speed_ids,
        "n_tokens": N_TOKENS,
        "checks": [],
        "check_tokens": CHECK_TOKENS,
        "speed": True,
    }
    if python is None:
        rows["llama"].note = "unavailable: llama-cpp-python could not be built"

    for key, run in runners.items():
        _timed(run(speed_ids, 4), 4)
        rows[key].checks = [_timed(run(ids, CHECK_TOKENS), CHECK_TOKENS)[1] for ids in check_ids]
    if python is not None:
        try:
            result = _llama_cpp(python, {**job, "checks": check_ids, "speed": False})
            rows["llama"].checks = result["checks"]  # type: ignore[assignment]
        except (subprocess.SubprocessError, ValueError) as exc:
            rows["llama"].note = f"unavailable: {exc}"
            python = None

    for round_index in range(ROUNDS):
        console.print(f"round {round_index + 1}/{ROUNDS}")
        for key, run in runners.items():
            rows[key].add_run(_timed(run(speed_ids, N_TOKENS), N_TOKENS)[0])
        if python is not None:
            result = _llama_cpp(python, job)
            rows["llama"].load_s = float(result["load_s"])  # type: ignore[arg-type]
            rows["llama"].add_run(result["stamps"])  # type: ignore[arg-type]

    _print_table(console, rows, threads, cold_s, cold_recorded is not None, warm_s)
    _print_perplexity(console, fp32, int8)


def _print_perplexity(console: Console, fp32: LocalLLM, int8: LocalLLM) -> None:
    """Perplexity of the held-out text under fp32, int8, and int8 with the fp32-rescored top-k."""
    ids = [fp32.bos, *fp32.encode_text(PPL_TEXT.read_text(encoding="utf-8"))][:PPL_TOKENS]
    table = Table(
        title=f"Perplexity, first {len(ids)} tokens of {PPL_TEXT.name} (int8: 1 token per step)"
    )
    for column in ("variant", "perplexity", "vs fp32", "seconds"):
        table.add_column(column, justify="left" if column == "variant" else "right")
    int8.head.rerank = RERANK
    base = None
    for name, llm, rescore in (
        ("engine fp32", fp32, False),
        ("engine int8, int8 head", int8, False),
        (f"engine int8, top-{RERANK} rescored in fp32", int8, True),
    ):
        started = time.perf_counter()
        value = perplexity(llm, ids, rescore=rescore)
        seconds = time.perf_counter() - started
        base = base or value
        table.add_row(name, f"{value:.3f}", f"{value / base - 1:+.1%}", f"{seconds:.0f}")
    console.print(table)


def _print_table(
    console: Console,
    rows: dict[str, Row],
    threads: int,
    cold_s: float,
    recorded: bool,
    warm_s: float,
) -> None:
    base = rows["fp32"].speed
    llama = rows["llama"].speed
    table = Table(
        title=f"Greedy decode, {N_TOKENS} tokens x {ROUNDS} interleaved rounds, {threads} threads",
        caption=describe(),
    )
    for column in (
        "variant",
        "load s",
        "TTFT p50 ms",
        "tok/s p50",
        "ms/token p50 / p95",
        "x engine fp32",
        "x llama.cpp",
        "greedy = fp32 (tokens)",
    ):
        table.add_column(column, justify="left" if column == "variant" else "right")
    for row in rows.values():
        speed = row.speed
        steps = sorted(row.step_ms)
        table.add_row(
            row.name + (f" [red]{row.note}" if row.note else ""),
            f"{row.load_s:.2f}" if row.load_s is not None else "-",
            f"{statistics.median(row.ttft_ms):.0f}" if row.ttft_ms else "-",
            f"{speed:.1f}" if speed else "-",
            f"{steps[len(steps) // 2]:.1f} / {steps[int(len(steps) * 0.95)]:.1f}" if steps else "-",
            f"{speed / base:.2f}" if speed and base else "-",
            f"{speed / llama:.2f}" if speed and llama else "-",
            _agreement(row, rows["fp32"]),
        )
    console.print(table)
    how = "recorded at first conversion" if recorded else "measured now"
    console.print(
        f"cold load (GGUF -> cached checkpoint): {cold_s:.1f} s ({how}); "
        f"warm load of the default int8 engine: {warm_s:.2f} s"
    )
