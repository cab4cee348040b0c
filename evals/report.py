"""Eval reports: the run directory (results.json, report.md, PNG plots), run history, tables.

Layout under the runs root (`<data_dir>/evals/runs/` for `medgraph eval`):

    <run_id>/results.json   the RunResult, with per-item rows (what --compare reads)
    <run_id>/report.md      tables with 95% intervals, thresholds, plots, comparison, history
    <run_id>/*.png          confusion matrices, reliability diagrams, scores per agent
    history.jsonl           one line per run: id, time, judge, every metric's value

Usage:
    directory = save_run(run, root, checks=check_run(run, load_thresholds()))
    previous = load_run("latest", root)
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from pydantic import BaseModel, ValidationError
from rich.table import Table

from evals.compare import MetricComparison, PairwiseSummary
from evals.plots import confusion_png, reliability_png, scores_png
from evals.results import MetricResult, RunResult
from evals.thresholds import ThresholdCheck
from state.errors import InputError

HISTORY_SHOWN = 10


class HistoryEntry(BaseModel):
    """One line of `history.jsonl`."""

    run_id: str
    started_at: str
    judge: str
    suites: list[str]
    values: dict[str, float | None]


def fmt(metric: MetricResult) -> tuple[str, str]:
    """The value and its interval as text (latencies with one decimal and their unit)."""
    if not metric.defined or metric.value is None:
        return "n/a", ""
    digits = 1 if metric.unit else 3
    unit = f" {metric.unit}" if metric.unit else ""
    value = f"{metric.value:.{digits}f}{unit}"
    if metric.low is None or metric.high is None:
        return value, ""
    return value, f"[{metric.low:.{digits}f}, {metric.high:.{digits}f}]"


def judge_line(run: RunResult) -> str:
    """The judge's label and, when calibrated, its Spearman rho and whether it is reliable."""
    judge = run.judge
    if judge.rho is None:
        return f"judge: {judge.label}"
    trust = "reliable" if judge.reliable else "UNRELIABLE: below 0.6"
    return f"judge: {judge.label}; calibration Spearman rho {judge.rho:.3f} ({trust})"


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


def _checks_by_metric(checks: Sequence[ThresholdCheck]) -> dict[tuple[str, str], ThresholdCheck]:
    return {(c.suite, c.metric): c for c in checks}


def metric_table(run: RunResult, checks: Sequence[ThresholdCheck] = ()) -> Table:
    """Every suite's metrics with intervals and threshold outcomes, for a terminal."""
    by_metric = _checks_by_metric(checks)
    table = Table(title=f"Eval run {run.run_id} (judge: {run.judge.label})", show_lines=False)
    for column in ("suite", "metric", "value", "95% CI", "n", "threshold"):
        table.add_column(
            column,
            justify="right" if column in ("value", "n") else "left",
            no_wrap=column in ("suite", "metric", "value"),
        )
    for suite in run.suites:
        if suite.status != "ok":
            table.add_row(suite.name, f"[yellow]{suite.status}[/]", "", "", "", suite.reason)
            continue
        for metric in suite.metrics:
            value, interval = fmt(metric)
            check = by_metric.get((suite.name, metric.name))
            outcome = ""
            if check is not None:
                colour = "green" if check.status == "passed" else "red"
                outcome = f"[{colour}]{check.bound.describe()} {check.status}[/]"
            table.add_row(suite.name, metric.name, value, interval, str(metric.n), outcome)
    return table


def _markdown_table(columns: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    def clean(cell: str) -> str:
        return cell.replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(clean(c) for c in row) + " |" for row in rows]
    return [*lines, ""]


def render_markdown(
    run: RunResult,
    *,
    checks: Sequence[ThresholdCheck] = (),
    plots: dict[str, list[str]] | None = None,
    comparisons: Sequence[MetricComparison] = (),
    pairwise: Sequence[PairwiseSummary] = (),
    compared_with: str | None = None,
    history: Sequence[HistoryEntry] = (),
) -> str:
    """The report as Markdown."""
    plots = plots or {}
    by_metric = _checks_by_metric(checks)
    failed = [c for c in checks if c.status == "failed"]
    lines = [
        f"# MedGraph eval run {run.run_id}",
        "",
        f"- started {run.started_at}, {run.seconds:.0f} s; {run.machine}",
        f"- {judge_line(run)}",
        f"- intervals: 95% percentile bootstrap, {run.n_boot} resamples, seed {run.seed}",
        f"- thresholds: {len(checks) - len(failed)} of {len(checks)} met"
        + (f"; failed: {', '.join(f'{c.suite}/{c.metric}' for c in failed)}" if failed else ""),
        "",
    ]
    for suite in run.suites:
        lines += [f"## {suite.title} (`{suite.name}`, agent {suite.agent})", ""]
        if suite.status != "ok":
            lines += [f"**{suite.status}**: {suite.reason}", ""]
            continue
        datasets = ", ".join(f"{d.name} v{d.version} ({d.items} rows)" for d in suite.datasets)
        lines += [f"Datasets: {datasets or 'none'}; {suite.seconds:.1f} s.", ""]
        rows = []
        for metric in suite.metrics:
            value, interval = fmt(metric)
            check = by_metric.get((suite.name, metric.name))
            threshold = f"{check.bound.describe()}: {check.status}" if check else ""
            rows.append([metric.name, value, interval, str(metric.n), threshold, metric.note])
        lines += _markdown_table(["metric", "value", "95% CI", "n", "threshold", "note"], rows)
        for note in suite.notes:
            lines += [f"- {note}"]
        lines += [""] if suite.notes else []
        for table in suite.tables:
            lines += [f"**{table.title}**", ""]
            lines += _markdown_table(table.columns, table.rows)
        lines += [f"![{name}]({name})" for name in plots.get(suite.name, [])]
        lines += [""]
    if "scores" in plots:
        lines += ["## Scores per agent", "", *[f"![{p}]({p})" for p in plots["scores"]], ""]
    if compared_with is not None:
        lines += [f"## Compared with run {compared_with}", ""]
        lines += _markdown_table(
            [
                "suite",
                "metric",
                "this run",
                "that run",
                "difference",
                "95% CI",
                "p",
                "n",
                "verdict",
            ],
            [
                [
                    c.suite,
                    c.metric,
                    f"{c.current:.4g}",
                    f"{c.previous:.4g}",
                    f"{c.diff:+.4g}",
                    f"[{c.low:+.4g}, {c.high:+.4g}]",
                    f"{c.p_value:.3g}",
                    str(c.n),
                    c.verdict,
                ]
                for c in comparisons
            ],
        )
        if pairwise:
            lines += [
                "Pairwise judging of the answers both runs gave (both orders; only "
                "consistent preferences count):",
                "",
            ]
            lines += _markdown_table(
                [
                    "suite",
                    "rubric",
                    "this run wins",
                    "that run wins",
                    "ties",
                    "inconsistent",
                    "identical",
                    "errors",
                    "judge",
                ],
                [
                    [
                        p.suite,
                        p.rubric,
                        str(p.current_wins),
                        str(p.previous_wins),
                        str(p.ties),
                        str(p.inconsistent),
                        str(p.identical),
                        str(p.errors),
                        p.judge,
                    ]
                    for p in pairwise
                ],
            )
    if history:
        keys = list({k.split("/")[0]: k for k in reversed(history[-1].values)}.values())[::-1]
        lines += ["## History (latest runs)", ""]
        lines += _markdown_table(
            ["run", "judge", *keys],
            [
                [
                    h.run_id,
                    h.judge[:24],
                    *[f"{h.values[k]:.3f}" if h.values.get(k) is not None else "" for k in keys],
                ]
                for h in history[-HISTORY_SHOWN:]
            ],
        )
    return "\n".join(lines)


def write_plots(run: RunResult, directory: Path) -> dict[str, list[str]]:
    """Every plot of the run as PNG files; file names per suite (and `scores`)."""
    made: dict[str, list[str]] = {}
    for suite in run.suites:
        for data in suite.confusion:
            path = confusion_png(
                data, directory / f"confusion_{_slug(suite.name)}_{_slug(data.name)}.png"
            )
            made.setdefault(suite.name, []).append(path.name)
        for data in suite.reliability:
            path = reliability_png(
                data, directory / f"reliability_{_slug(suite.name)}_{_slug(data.name)}.png"
            )
            made.setdefault(suite.name, []).append(path.name)
    if any(s.metrics for s in run.suites):
        made["scores"] = [
            scores_png(run.suites, directory / "scores.png", judge_label=run.judge.label).name
        ]
    return made


def history_entry(run: RunResult) -> HistoryEntry:
    """The run's one-line summary."""
    return HistoryEntry(
        run_id=run.run_id,
        started_at=run.started_at,
        judge=run.judge.label,
        suites=[s.name for s in run.suites],
        values={f"{s.name}/{m.name}": m.value for s in run.suites for m in s.metrics},
    )


def read_history(root: Path) -> list[HistoryEntry]:
    """Every run recorded under `root`, oldest first (unreadable lines are skipped)."""
    path = root / "history.jsonl"
    if not path.is_file():
        return []
    entries = []
    for line in path.read_text("utf-8").splitlines():
        try:
            entries.append(HistoryEntry.model_validate_json(line))
        except ValidationError:
            continue
    return entries


def save_run(
    run: RunResult,
    root: Path,
    *,
    checks: Sequence[ThresholdCheck] = (),
    comparisons: Sequence[MetricComparison] = (),
    pairwise: Sequence[PairwiseSummary] = (),
    compared_with: str | None = None,
) -> Path:
    """Write the run's directory and append it to the history; returns the report's path."""
    directory = root / run.run_id
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "results.json").write_text(run.model_dump_json(indent=1), "utf-8")
    plots = write_plots(run, directory)
    history = [*read_history(root), history_entry(run)]
    report = directory / "report.md"
    report.write_text(
        render_markdown(
            run,
            checks=checks,
            plots=plots,
            comparisons=comparisons,
            pairwise=pairwise,
            compared_with=compared_with,
            history=history,
        ),
        "utf-8",
    )
    with (root / "history.jsonl").open("a", encoding="utf-8") as out:
        out.write(history_entry(run).model_dump_json() + "\n")
    return report


def load_run(ref: str, root: Path) -> RunResult:
    """A stored run: `latest`, a run id under `root`, or a path to its directory or JSON."""
    if ref == "latest":
        entries = read_history(root)
        if not entries:
            raise InputError(f"no eval runs recorded under {root}")
        ref = entries[-1].run_id
    candidate = Path(ref)
    if not candidate.exists():
        candidate = root / ref
    path = candidate / "results.json" if candidate.is_dir() else candidate
    try:
        return RunResult.model_validate_json(path.read_text("utf-8"))
    except OSError as exc:
        raise InputError(f"no eval run {ref!r} (looked for {path})") from exc
    except ValidationError as exc:
        raise InputError(f"{path} is not an eval run's results.json: {exc}") from exc
