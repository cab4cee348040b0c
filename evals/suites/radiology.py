"""Radiology suite: the served checkpoint on a few held-out phantoms, beside the baseline.

The checkpoint is found as the runtime finds it (`MEDGRAPH_RADIOLOGY_CHECKPOINT`, else the
cached demo, else the packaged demo); with none the suite is skipped, saying how to build one.
The test phantoms are the versioned `radiology_phantoms` dataset (findings, seed and paired real
report per case; `evals/radiology_cases.py`), redrawn at the checkpoint's image size. Decoding and
the most-frequent-report baseline follow `tools/radiology/evaluate.py`. Clinical
precision and recall are micro-averaged over the drawable conditions (labeller on the generated
report vs the phantom's truth); clinical macro-F1 averages the drawable conditions that occur
in the truth or the predictions. BLEU-4, ROUGE-L and METEOR are per-report scores against the
paired real report, averaged (a one-report BLEU is unsmoothed, so it is often 0).
"""

from __future__ import annotations

from collections.abc import Sequence

from app.settings import Settings
from evals.datasets import load_jsonl
from evals.harness import EvalContext, Suite
from evals.radiology_cases import PhantomCase
from evals.results import MetricResult, SuiteResult, TableData
from evals.stats import macro_f1_rows, mean_rows, ratio_rows
from state.errors import AssetError, InputError
from tools.radiology.dataset import PhantomPool, PoolConfig, RadiologyCorpus, render_pairs
from tools.radiology.decoder import GenerationSettings
from tools.radiology.evaluate import (
    DEFAULT_MAX_NEW_TOKENS,
    PHANTOM_NOTE,
    generate_reports,
    most_frequent_target,
    training_config_of,
)
from tools.radiology.metrics import score_reports
from tools.radiology.pairing import DRAWABLE_CONDITIONS, report_conditions
from tools.radiology.service import find_checkpoint
from tools.radiology.train import pick_device
from tools.radiology.weights import load_checkpoint

TEXT_METRICS = ("bleu_4", "rouge_l", "meteor")


def _text_scores(generated: str, reference: str) -> dict[str, float]:
    """One report's text scores; an empty report scores 0."""
    try:
        scores = score_reports([generated], [reference])
    except InputError:
        return dict.fromkeys(TEXT_METRICS, 0.0)
    return {name: float(getattr(scores, name)) for name in TEXT_METRICS}


def _system_metrics(
    ctx: EvalContext,
    prefix: str,
    generated: Sequence[str],
    pool: PhantomPool,
    ids: list[str],
    what: str,
) -> list[MetricResult]:
    drawable = set(DRAWABLE_CONDITIONS)
    truth = [set(t) & drawable for t in pool.true_conditions()]
    predicted = [set(report_conditions(text)) & drawable for text in generated]
    occurring = [c for c in DRAWABLE_CONDITIONS if any(c in s for s in truth + predicted)]
    hits = [len(t & p) for t, p in zip(truth, predicted, strict=True)]
    text = [_text_scores(g, r) for g, r in zip(generated, pool.targets, strict=True)]
    metrics = [
        ctx.metric(
            f"{prefix}clinical_precision",
            "ratio",
            ids,
            ratio_rows(hits, [len(p) for p in predicted]),
            note=f"{what}: labelled findings the phantom shows (micro, drawable conditions)",
        ),
        ctx.metric(
            f"{prefix}clinical_recall",
            "ratio",
            ids,
            ratio_rows(hits, [len(t) for t in truth]),
            note=f"{what}: phantom findings the report states (micro, drawable conditions)",
        ),
        ctx.metric(
            f"{prefix}clinical_macro_f1",
            "macro_f1",
            ids,
            macro_f1_rows(truth, predicted, occurring),
            note=f"{what}: over the {len(occurring)} drawable conditions occurring here",
        ),
    ]
    return metrics + [
        ctx.metric(
            f"{prefix}{name}",
            "ratio",
            ids,
            mean_rows(t[name] for t in text),
            note=f"{what}: mean per-report score against the paired real report",
        )
        for name in TEXT_METRICS
    ]


def run(ctx: EvalContext) -> SuiteResult:
    """Generate reports for the test phantoms and score them and the baseline."""
    settings = Settings()
    try:
        checkpoint = find_checkpoint(settings.radiology_checkpoint, settings.cache_dir)
    except AssetError as exc:
        return SuiteResult(
            name="radiology",
            title=TITLE,
            agent="radiology",
            status="skipped",
            reason=str(exc),
        )
    bundle = load_checkpoint(checkpoint, pick_device())
    corpus = RadiologyCorpus.load(settings.cache_dir)
    trained = training_config_of(checkpoint)
    image_size = bundle.model.config.image_size
    ref, cases = load_jsonl("radiology_phantoms", PhantomCase)
    pool = render_pairs(
        PoolConfig(split="test", size=len(cases), image_size=image_size),
        [case.pair() for case in cases],
        corpus.masks,
    )
    max_new_tokens = min(settings.radiology_max_new_tokens, DEFAULT_MAX_NEW_TOKENS)
    generated = generate_reports(
        bundle,
        pool,
        GenerationSettings(
            num_beams=4, min_new_tokens=min(20, max_new_tokens), max_new_tokens=max_new_tokens
        ),
    ).texts
    baseline = most_frequent_target(corpus, trained.pool(image_size))
    ids = [case.id for case in cases]
    model_metrics = _system_metrics(ctx, "", generated, pool, ids, "model")
    baseline_metrics = _system_metrics(
        ctx, "baseline_", [baseline] * len(pool), pool, ids, "most-frequent-report baseline"
    )
    return SuiteResult(
        name="radiology",
        title=TITLE,
        agent="radiology",
        datasets=[ref],
        metrics=model_metrics + baseline_metrics,
        tables=[
            TableData(
                title="Model vs most-frequent-report baseline",
                columns=["metric", "model", "baseline"],
                rows=[
                    [m.name, f"{m.value:.3f}", f"{b.value:.3f}"]
                    for m, b in zip(model_metrics, baseline_metrics, strict=True)
                    if m.value is not None and b.value is not None
                ],
            )
        ],
        notes=[
            f"Checkpoint {checkpoint} ({bundle.card.model_id}), {len(pool)} held-out phantoms, "
            f"beam 4, at most {max_new_tokens} new tokens.",
            PHANTOM_NOTE,
        ],
    )


TITLE = "Radiology report generation (phantoms)"
SUITE = Suite(
    name="radiology",
    title=TITLE,
    agent="radiology",
    run=run,
    requires=("agents.radiology",),
    order=60,
)
