"""Run the slow graph on Redis in its own process, for the kill -9 test to kill mid-run."""

from __future__ import annotations

import sys
from pathlib import Path

from state.redis_saver import RedisSaver
from tests.state.graphs import build_slow_graph


def main(url: str, prefix: str, thread: str, log: str, n_steps: int, delay_s: float) -> None:
    with RedisSaver.from_url(url, prefix=prefix) as saver:
        graph = build_slow_graph(saver, n_steps, delay_s, Path(log))
        graph.invoke({"thread": thread}, {"configurable": {"thread_id": thread}})


if __name__ == "__main__":
    url, prefix, thread, log, n, delay = sys.argv[1:]
    main(url, prefix, thread, log, int(n), float(delay))
