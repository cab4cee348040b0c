"""Server throughput, 50 threads × 10 turns through langgraph-sdk: MedGraph vs `langgraph dev`.

Both servers run the same MedGraph graph (guards, MiniLM routing, the general agent) against the
same scripted OpenAI-compatible endpoint (`tests/app/server/scripted_endpoint.py`, which echoes
each message at once), so model time does not dominate. `medgraph serve` keeps checkpoints, runs
and events in Redis and the audit in Postgres; `langgraph dev` (LangGraph's own server, from
`langgraph-cli[inmem]` in its own virtualenv under the cache dir, because it pins other protobuf
and grpcio versions than this project) keeps everything in memory. Each client thread sends its
turns one after another with `runs.wait`; afterwards every thread's state is read back and each
turn must appear once, in order, with its own answer (else it counts as lost or mixed). Both
servers are started and warmed first, then loaded in interleaved rounds (A B B A), so load from
other processes on the machine hits them alike; runs/s is the median over rounds.

Run: `python -m benchmarks server` (Redis and Postgres on 127.0.0.1; override with
MEDGRAPH_BENCH_REDIS_URL / MEDGRAPH_BENCH_POSTGRES_URL).
"""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import redis
from langgraph_sdk import get_client
from rich.console import Console
from rich.table import Table

from app.server.keys import add_key
from app.settings import get_settings
from benchmarks.machine import describe
from tests.app.server.harness import ROOT, free_port, spawn_server
from tests.app.server.scripted_endpoint import ScriptedEndpoint

THREADS = 50
TURNS = 10
MAX_CONCURRENT_RUNS = 32
ROUNDS = 2
REDIS_URL = os.environ.get("MEDGRAPH_BENCH_REDIS_URL", "redis://127.0.0.1:6379/15")
POSTGRES_URL = os.environ.get(
    "MEDGRAPH_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
Waiter = Callable[[], None]


def say(thread: int, turn: int) -> str:
    """A message every guard passes and the router sends to `general` (checked wording)."""
    return f"hello, good morning from thread {thread} turn {turn}"


@dataclass
class Target:
    """A started server to load: where it is and what each run's input adds."""

    name: str
    url: str | None
    api_key: str | None = None
    extra: dict[str, str] = field(default_factory=dict)
    note: str = ""


@dataclass
class Load:
    """What one server did under the load, over all rounds."""

    name: str
    latencies_s: list[float] = field(default_factory=list)
    round_rates: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    lost_or_mixed: int = 0
    wall_s: float = 0.0
    note: str = ""

    @property
    def runs_per_s(self) -> float:
        """Median completed runs per second over the rounds."""
        return statistics.median(self.round_rates) if self.round_rates else 0.0

    def quantile_ms(self, q: float) -> float:
        """A latency quantile in milliseconds."""
        ordered = sorted(self.latencies_s)
        return 1000 * ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


def _whole(messages: list[dict], thread: int) -> bool:
    """Every turn of the thread once, in order, each followed by its own answer."""
    if len(messages) != 2 * TURNS:
        return False
    for turn in range(1, TURNS + 1):
        human, answer = messages[2 * turn - 2], messages[2 * turn - 1]
        if human["content"] != say(thread, turn):
            return False
        if not str(answer["content"]).startswith(f"Noted: {say(thread, turn)}."):
            return False
    return True


def _input(thread: int, turn: int, extra: dict[str, str]) -> dict:
    return {"messages": [{"role": "user", "content": say(thread, turn)}], **extra}


async def warm_up(target: Target) -> None:
    """A few turns on a scratch thread, so first-call costs stay out of the rounds."""
    client = get_client(url=target.url, api_key=target.api_key, timeout=600)
    warm = (await client.threads.create())["thread_id"]
    for turn in range(1, 4):
        await client.runs.wait(warm, "medgraph", input=_input(49, turn, target.extra))


async def load_round(target: Target, load: Load) -> None:
    """THREADS clients × TURNS `runs.wait`, then every thread read back and checked."""
    client = get_client(url=target.url, api_key=target.api_key, timeout=600)
    done = 0

    async def converse(thread: int) -> str:
        nonlocal done
        thread_id = (await client.threads.create(metadata={"bench": target.name}))["thread_id"]
        for turn in range(1, TURNS + 1):
            started = time.perf_counter()
            try:
                await client.runs.wait(
                    thread_id,
                    "medgraph",
                    input=_input(thread, turn, target.extra),
                    raise_error=True,
                )
            except Exception as exc:
                load.errors.append(f"{type(exc).__name__}: {exc}"[:200])
                continue
            load.latencies_s.append(time.perf_counter() - started)
            done += 1
        return thread_id

    started = time.perf_counter()
    thread_ids = await asyncio.gather(*(converse(i) for i in range(THREADS)))
    wall = time.perf_counter() - started
    load.wall_s += wall
    load.round_rates.append(done / wall)
    for thread, thread_id in enumerate(thread_ids):
        state = await client.threads.get_state(thread_id)
        if not _whole(state["values"].get("messages", []), thread):
            load.lost_or_mixed += 1


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(60)
    except subprocess.TimeoutExpired:
        proc.kill()


def _langgraph_cli(console: Console) -> Path | None:
    """`langgraph-cli[inmem]` in its own virtualenv that also sees this project's packages."""
    venv = get_settings().cache_dir / "langgraph-dev-venv"
    cli = venv / "bin" / "langgraph"
    if not cli.exists():
        console.print("[yellow]Installing langgraph-cli[inmem] in a benchmark venv (minutes)...")
        try:
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
            subprocess.run(
                [
                    str(venv / "bin" / "python"),
                    "-m",
                    "pip",
                    "install",
                    "-q",
                    "langgraph-cli[inmem]",
                ],
                check=True,
            )
        except (OSError, subprocess.CalledProcessError) as exc:
            console.print(f"[red]langgraph-cli[inmem] could not be installed: {exc}")
            return None
    sites = list((venv / "lib").glob("python*/site-packages"))
    if not sites:
        return None
    (sites[0] / "zz_medgraph_project.pth").write_text(
        f"{sysconfig.get_paths()['purelib']}\n{ROOT}\n"
    )
    return cli


def _wait_for(url: str, proc: subprocess.Popen[bytes], timeout_s: float = 600) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with {proc.returncode} during startup")
        try:
            if httpx.get(f"{url}/ok", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise TimeoutError(f"{url} did not start within {timeout_s:.0f} s")


@contextmanager
def medgraph_serve(env: dict[str, str], workdir: Path) -> Iterator[tuple[Target, Waiter]]:
    """`medgraph serve` in a subprocess, durable on Redis and Postgres."""
    keys_file = workdir / "keys.json"
    key = add_key(keys_file, tenant="bench", user="bench", role="clinician")
    port = free_port()
    server_env = {
        **env,
        "MEDGRAPH_DATA_DIR": str(workdir / "medgraph"),
        "MEDGRAPH_SERVER_API_KEYS_FILE": str(keys_file),
        "MEDGRAPH_SERVER_REDIS_PREFIX": f"bench-srv-{uuid.uuid4().hex[:8]}",
        "MEDGRAPH_SERVER_MAX_CONCURRENT_RUNS": str(MAX_CONCURRENT_RUNS),
    }
    proc = spawn_server(server_env, port, workdir / "medgraph.log")
    url = f"http://127.0.0.1:{port}"
    try:
        yield Target("medgraph serve (Redis + Postgres)", url, key), lambda: _wait_for(url, proc)
    finally:
        _stop(proc)
        _drop_keys(server_env["MEDGRAPH_SERVER_REDIS_PREFIX"])


def _drop_keys(prefix: str) -> None:
    """Remove the benchmark server's threads, runs and events from Redis."""
    client = redis.Redis.from_url(REDIS_URL)
    try:
        stale = list(client.scan_iter(match=f"{prefix}:*", count=1000))
        for start in range(0, len(stale), 500):
            client.delete(*stale[start : start + 500])
    finally:
        client.close()


@contextmanager
def langgraph_dev(
    env: dict[str, str], workdir: Path, console: Console
) -> Iterator[tuple[Target, Waiter]]:
    """LangGraph's `langgraph dev` (in memory) serving the same graph from langgraph.json."""
    name = "langgraph dev (in memory)"
    cli = _langgraph_cli(console)
    if cli is None:
        note = "not measured: langgraph-cli[inmem] could not be installed"
        yield Target(name, None, note=note), lambda: None
        return
    port = free_port()
    with (workdir / "langgraph-dev.log").open("ab") as sink:
        proc = subprocess.Popen(
            [
                str(cli),
                "dev",
                "--no-browser",
                "--no-reload",
                "--allow-blocking",
                "--port",
                str(port),
                "--n-jobs-per-worker",
                str(MAX_CONCURRENT_RUNS),
                "--config",
                str(ROOT / "langgraph.json"),
            ],
            cwd=ROOT,
            env={
                **os.environ,
                **env,
                "MEDGRAPH_DATA_DIR": str(workdir / "langgraph-dev"),
                "LANGSMITH_TRACING": "false",
                "LANGGRAPH_CLI_NO_ANALYTICS": "1",
            },
            stdout=sink,
            stderr=sink,
        )
    url = f"http://127.0.0.1:{port}"
    target = Target(name, url, extra={"user_id": "bench", "tenant_id": "bench"})
    try:
        yield target, lambda: _wait_for(url, proc)
    finally:
        _stop(proc)


def _start(targets: list[tuple[Target, Waiter]], workdir: Path, console: Console) -> list[Target]:
    """Wait for every server; one that fails to start is marked with the reason."""
    ready: list[Target] = []
    for target, wait in targets:
        if target.url is not None:
            try:
                wait()
                asyncio.run(warm_up(target))
                console.print(f"{target.name} is up and warm")
            except (RuntimeError, TimeoutError, httpx.HTTPError) as exc:
                target.note = f"not measured: {exc} (logs in {workdir})"
                target.url = None
        ready.append(target)
    return ready


def _table(loads: list[Load]) -> Table:
    baseline = loads[1].runs_per_s
    table = Table(
        title=f"Server load: {THREADS} concurrent threads × {TURNS} turns (runs.wait), "
        f"{ROUNDS} interleaved rounds per server, scripted model endpoint",
        caption=f"{describe()}; max {MAX_CONCURRENT_RUNS} concurrent runs per server",
    )
    for column in ("server", "runs", "errors", "lost/mixed threads", "runs/s (median)"):
        table.add_column(column, justify="left" if column == "server" else "right")
    for column in ("p50 ms", "p95 ms", "× langgraph dev", "note"):
        table.add_column(column, justify="left" if column == "note" else "right")
    for load in loads:
        table.add_row(
            load.name,
            str(len(load.latencies_s)),
            str(len(load.errors)),
            str(load.lost_or_mixed),
            f"{load.runs_per_s:.2f}",
            f"{load.quantile_ms(0.5):.0f}",
            f"{load.quantile_ms(0.95):.0f}",
            f"{load.runs_per_s / baseline:.2f}" if baseline else "-",
            load.note or (load.errors[0] if load.errors else ""),
        )
    return table


def main() -> None:
    """Start both servers on the same scripted endpoint, load them in turn, print the table."""
    console = Console(width=170)
    with (
        ScriptedEndpoint(chunks=4) as endpoint,
        tempfile.TemporaryDirectory() as tmp,
        ExitStack() as servers,
    ):
        workdir = Path(tmp)
        env = {
            "MEDGRAPH_MODEL_BASE_URL": endpoint.base_url,
            "MEDGRAPH_CHECKPOINT_URL": REDIS_URL,
            "MEDGRAPH_AUDIT_URL": POSTGRES_URL,
        }
        started = [
            servers.enter_context(medgraph_serve(env, workdir)),
            servers.enter_context(langgraph_dev(env, workdir, console)),
        ]
        targets = _start(started, workdir, console)
        loads = [Load(t.name, note=t.note) for t in targets]
        order = [0, 1, 1, 0] * (ROUNDS // 2)
        for index in order:
            if targets[index].url is not None:
                asyncio.run(load_round(targets[index], loads[index]))
    console.print(_table(loads))
    for load in loads:
        for error in load.errors[:3]:
            console.print(f"{load.name}: {error}")
