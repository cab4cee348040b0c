"""Evaluate a checkpoint on held-out phantoms, side by side with the most-frequent-report baseline.

Each test phantom is drawn for a real report of the test split (`dataset.PoolConfig`). Text
metrics (BLEU, ROUGE, METEOR; spec §8) compare generated reports with those real reports.
Clinical precision, recall and F1 compare what the labeller reads in a generated report with
the findings the phantom really shows. The headline `phantom_macro_f1` averages F1 over the
conditions phantoms can draw. The baseline writes the single most frequent training target
for every image. The auxiliary head's own reading of each image (a condition is present when its
probability exceeds 0.5) is scored against the same truth, which tells whether the encoder or
the report decoder is what holds the reports back.

Usage:
    result = evaluate_checkpoint(Path("ckpt/demo"), cache_dir=cache, images=200)
    result.model.phantom_macro_f1, result.baseline.phantom_macro_f1, result.model.text.bleu_4
    result.aux_head.phantom_macro_f1
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from pydantic import BaseModel, ConfigDict
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from state.errors import ConfigError
from tools.radiology.clinical_metrics import ClinicalScores, clinical_scores_from_labels
from tools.radiology.conditions import CONDITIONS
from tools.radiology.dataset import (
    PhantomPool,
    PoolConfig,
    RadiologyCorpus,
    draw_pairs,
    eval_pixels,
    load_pool,
)
from tools.radiology.decoder import GenerationSettings
from tools.radiology.metrics import ReportMetrics, score_reports
from tools.radiology.pairing import DRAWABLE_CONDITIONS, report_conditions, with_implied
from tools.radiology.train import TRAINING_LOG, autocast, pick_device
from tools.radiology.train_config import TrainConfig
from tools.radiology.weights import RadiologyModel, load_checkpoint

PHANTOM_NOTE = (
    "Trained and tested on synthetic chest phantoms paired with real IU X-ray report text; "
    "these scores say nothing about real radiographs."
)
TRUTH_NOTE = (
    "Clinical scores compare the labeller's reading of each generated report (consolidation "
    "counted as a lung opacity, as the phantoms draw it) with the phantom's true findings."
)
DEFAULT_MAX_NEW_TOKENS = 160
AUX_THRESHOLD = 0.5


class SystemScores(BaseModel):
    """One system's scores on the test phantoms."""

    model_config = ConfigDict(frozen=True)

    name: str
    text: ReportMetrics
    clinical: ClinicalScores
    phantom_macro_f1: float


class AuxHeadScores(BaseModel):
    """The auxiliary head alone on the test phantoms: a condition counts when p > threshold."""

    model_config = ConfigDict(frozen=True)

    threshold: float
    clinical: ClinicalScores
    phantom_macro_f1: float


class Example(BaseModel):
    """One test phantom: its findings, the paired real report and the generated one."""

    model_config = ConfigDict(frozen=True)

    findings: str
    reference: str
    generated: str


class EvaluationResult(BaseModel):
    """Model and baseline scores on the same test phantoms."""

    model_config = ConfigDict(frozen=True)

    checkpoint: str
    model_id: str
    phantom_trained: bool
    pretrained: bool
    images: int
    generation: dict[str, float | int | bool]
    model: SystemScores
    baseline: SystemScores
    aux_head: AuxHeadScores
    baseline_text: str
    examples: tuple[Example, ...]
    notes: tuple[str, ...]
    seconds: float


def drawable_macro_f1(scores: ClinicalScores) -> float:
    """Mean F1 over the drawable conditions that occur in the truth or the predictions."""
    occurring = [
        scores.per_condition[c]
        for c in DRAWABLE_CONDITIONS
        if scores.per_condition[c].support or scores.per_condition[c].predicted
    ]
    return sum(s.f1 for s in occurring) / len(occurring) if occurring else 0.0


def score_system(name: str, generated: Sequence[str], pool: PhantomPool) -> SystemScores:
    """Text metrics against the paired reports, clinical scores against the phantoms' truth."""
    clinical = clinical_scores_from_labels(
        [report_conditions(text) for text in generated], pool.true_conditions()
    )
    return SystemScores(
        name=name,
        text=score_reports(list(generated), list(pool.targets)),
        clinical=clinical,
        phantom_macro_f1=drawable_macro_f1(clinical),
    )


def aux_conditions(
    aux_probs: torch.Tensor, threshold: float = AUX_THRESHOLD
) -> list[frozenset[str]]:
    """The conditions the auxiliary head finds in each image [B, 14], with `IMPLIED` parents."""
    return [
        with_implied({c for c, present in zip(CONDITIONS, row, strict=True) if present})
        for row in (aux_probs > threshold).tolist()
    ]


def score_aux_head(
    aux_probs: torch.Tensor, pool: PhantomPool, threshold: float = AUX_THRESHOLD
) -> AuxHeadScores:
    """Clinical scores of the auxiliary head's thresholded probabilities against the truth."""
    clinical = clinical_scores_from_labels(
        aux_conditions(aux_probs, threshold), pool.true_conditions()
    )
    return AuxHeadScores(
        threshold=threshold, clinical=clinical, phantom_macro_f1=drawable_macro_f1(clinical)
    )


def training_config_of(checkpoint: Path) -> TrainConfig:
    """The settings a checkpoint was trained with (`training.json`), else the defaults."""
    log = checkpoint / TRAINING_LOG
    if not log.is_file():
        return TrainConfig()
    return TrainConfig.from_dict(json.loads(log.read_text())["config"])


def most_frequent_target(corpus: RadiologyCorpus, config: PoolConfig) -> str:
    """The training target text that occurs most often in the training pool."""
    counts = Counter(pair.target for pair in draw_pairs(config, corpus))
    return max(counts, key=lambda text: (counts[text], text))


@dataclass(frozen=True)
class Drafts:
    """A generated report and the auxiliary head's probabilities [N, 14] for each phantom."""

    texts: list[str]
    aux_probs: torch.Tensor


def generate_reports(
    bundle: RadiologyModel,
    pool: PhantomPool,
    settings: GenerationSettings,
    batch_size: int = 16,
    console: Console | None = None,
) -> Drafts:
    """Beam-search a report for every phantom of the pool."""
    model = bundle.model.eval()
    device = next(model.parameters()).device
    texts: list[str] = []
    probs: list[torch.Tensor] = []
    with Progress(
        TextColumn("generating reports"),
        BarColumn(),
        MofNCompleteColumn(),
        console=console,
        disable=console is None,
    ) as progress:
        task = progress.add_task("generate", total=len(pool))
        for start in range(0, len(pool), batch_size):
            indices = range(start, min(start + batch_size, len(pool)))
            pixels = eval_pixels(pool, indices).to(device)
            prefix = bundle.prompter.prefix(len(indices), device)
            with torch.no_grad(), autocast(device):
                result = model.generate(pixels, prefix, settings)
            texts += bundle.prompter.decode(result.token_ids)
            probs.append(result.encoding.aux_probs.float().cpu())
            progress.advance(task, len(indices))
    return Drafts(texts=texts, aux_probs=torch.cat(probs))


def evaluate_checkpoint(
    checkpoint: Path,
    *,
    cache_dir: Path,
    images: int = 200,
    max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS,
    num_beams: int = 4,
    threads: int | None = None,
    corpus: RadiologyCorpus | None = None,
    console: Console | None = None,
) -> EvaluationResult:
    """Generate reports for `images` test phantoms and score the model and the baseline.

    Decoding follows spec §4.6 (beam search, trigram blocking, length penalty 1.0, early
    stopping, at least 20 new tokens) except that `max_new_tokens` may cap it below 512.
    """
    if images < 1:
        raise ConfigError(f"need at least one test image, got {images}")
    started = time.perf_counter()
    if threads:
        torch.set_num_threads(threads)
    bundle = load_checkpoint(checkpoint, pick_device())
    corpus = corpus or RadiologyCorpus.load(cache_dir)
    trained = training_config_of(checkpoint)
    image_size = bundle.model.config.image_size
    test = load_pool(
        cache_dir,
        corpus,
        PoolConfig(split="test", size=images, image_size=image_size, seed=trained.pool_seed),
        console,
    )
    settings = GenerationSettings(
        num_beams=num_beams,
        min_new_tokens=min(20, max_new_tokens),
        max_new_tokens=max_new_tokens,
    )
    drafts = generate_reports(bundle, test, settings, console=console)
    generated = drafts.texts
    baseline_text = most_frequent_target(corpus, trained.pool(image_size))
    model_scores = score_system("model", generated, test)
    baseline_scores = score_system("baseline", [baseline_text] * len(test), test)
    card = bundle.card
    return EvaluationResult(
        checkpoint=str(checkpoint),
        model_id=card.model_id,
        phantom_trained=card.phantom_trained,
        pretrained=card.pretrained,
        images=len(test),
        generation={
            "num_beams": settings.num_beams,
            "no_repeat_ngram_size": settings.no_repeat_ngram_size,
            "length_penalty": settings.length_penalty,
            "early_stopping": settings.early_stopping,
            "min_new_tokens": settings.min_new_tokens,
            "max_new_tokens": settings.max_new_tokens,
        },
        model=model_scores,
        baseline=baseline_scores,
        aux_head=score_aux_head(drafts.aux_probs, test),
        baseline_text=baseline_text,
        examples=tuple(
            Example(findings=test.findings[i], reference=test.targets[i], generated=generated[i])
            for i in range(min(5, len(test)))
        ),
        notes=(PHANTOM_NOTE, TRUTH_NOTE, *model_scores.text.notes),
        seconds=time.perf_counter() - started,
    )
