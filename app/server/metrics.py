"""Prometheus metrics of the server: requests, latency, runs in flight, routes and guard decisions.

Each app gets its own registry (so tests and several apps in one process do not collide).
Guard counters are read from the guards' own `GuardMetrics` when Prometheus scrapes. With
several uvicorn workers, each worker reports its own numbers.

Usage:
    metrics = ServerMetrics()
    metrics.attach_guards(runtime.guards.metrics)
    metrics.request("GET", "/ok", 200, 0.002)
    body = metrics.render()
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from state.schema import RoutePlan
from tools.guards.metrics import GuardMetrics

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class _GuardCollector(Collector):
    """Exports `GuardMetrics` counts and latencies at scrape time."""

    def __init__(self, guard_metrics: GuardMetrics) -> None:
        self._metrics = guard_metrics

    def collect(self) -> Iterator[Metric]:
        """Guard decisions per guard and action, and p50/p95 latency per guard."""
        decisions = CounterMetricFamily(
            "medgraph_guard_decisions",
            "Guard decisions by guard and action",
            labels=["guard", "action"],
        )
        latency = GaugeMetricFamily(
            "medgraph_guard_latency_ms",
            "Recent guard latency quantiles",
            labels=["guard", "quantile"],
        )
        for guard, values in self._metrics.snapshot().items():
            for name, value in values.items():
                if name.endswith("_ms"):
                    latency.add_metric([guard, name.removesuffix("_ms")], value)
                else:
                    decisions.add_metric([guard, name], value)
        yield decisions
        yield latency


class ServerMetrics:
    """The server's Prometheus registry and the instruments routes and runs update."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "medgraph_http_requests",
            "HTTP requests by method, route and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "medgraph_http_request_seconds",
            "HTTP request latency (until the response starts for streams)",
            ["method", "route"],
            registry=self.registry,
        )
        self.runs_in_flight = Gauge(
            "medgraph_runs_in_flight", "Runs this worker holds", registry=self.registry
        )
        self.runs = Counter(
            "medgraph_runs", "Finished runs by status", ["status"], registry=self.registry
        )
        self.run_seconds = Histogram(
            "medgraph_run_seconds",
            "Run duration",
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
            registry=self.registry,
        )
        self.routes = Counter(
            "medgraph_routes",
            "Supervisor routing decisions by intent and method",
            ["intent", "method"],
            registry=self.registry,
        )
        self._guards_attached = False

    def attach_guards(self, guard_metrics: GuardMetrics) -> None:
        """Export the guards' decision counters and latencies (once per registry)."""
        if not self._guards_attached:
            self.registry.register(_GuardCollector(guard_metrics))
            self._guards_attached = True

    def request(self, method: str, route: str, status: int, seconds: float) -> None:
        """Count one HTTP request."""
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route).observe(seconds)

    def run_finished(self, status: str, seconds: float) -> None:
        """Count one finished run."""
        self.runs.labels(status).inc()
        self.run_seconds.observe(seconds)

    def observe_update(self, update: Any) -> None:
        """Count the routing decision in a graph `updates` chunk, if it holds one."""
        if not isinstance(update, Mapping):
            return
        supervisor = update.get("supervisor")
        plan = supervisor.get("route") if isinstance(supervisor, Mapping) else None
        if isinstance(plan, RoutePlan):
            for task in plan.tasks or []:
                self.routes.labels(task.intent, plan.method).inc()
            if not plan.tasks:
                self.routes.labels("clarify", plan.method).inc()

    def render(self) -> bytes:
        """The Prometheus text exposition of every metric."""
        return generate_latest(self.registry)
