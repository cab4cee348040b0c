"""Evaluation on test phantoms: every table field for the model and the baseline, the baseline's
text, and clinical scores against the phantoms' true findings."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
import torch

from tests.tools.radiology.training_support import corpus, link_cache, tiny_run
from tools.models.embedder import MiniLMEmbedder
from tools.radiology.clinical_metrics import clinical_scores_from_labels
from tools.radiology.dataset import PoolConfig, build_pool, draw_pairs
from tools.radiology.evaluate import (
    PHANTOM_NOTE,
    EvaluationResult,
    drawable_macro_f1,
    evaluate_checkpoint,
    most_frequent_target,
    score_system,
    training_config_of,
)
from tools.radiology.train import train
from tools.radiology.train_config import TrainConfig

IMAGES = 4


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Path:
    return link_cache(tmp_path_factory.mktemp("cache"))


@pytest.fixture(scope="module")
def result(cache, tmp_path_factory) -> EvaluationResult:
    out = tmp_path_factory.mktemp("run") / "model"
    torch.manual_seed(0)
    train(
        tiny_run(steps=1),
        cache_dir=cache,
        out_dir=out,
        embedder=MiniLMEmbedder.load("cpu", quantize=False, trace=False),
        corpus=corpus(),
        threads=1,
    )
    return evaluate_checkpoint(
        out, cache_dir=cache, images=IMAGES, max_new_tokens=8, corpus=corpus(), threads=1
    )


def test_evaluation_scores_model_and_baseline_on_the_same_phantoms(result) -> None:
    assert result.images == IMAGES and result.phantom_trained and not result.pretrained
    for system in (result.model, result.baseline):
        text = system.text
        for value in (text.bleu_1, text.bleu_2, text.bleu_3, text.bleu_4, text.rouge_l):
            assert 0.0 <= value <= 1.0
        assert 0.0 <= text.meteor <= 1.0
        clinical = system.clinical
        assert 0.0 <= clinical.micro_f1 <= 1.0 and 0.0 <= clinical.macro_f1 <= 1.0
        assert sum(s.support for s in clinical.per_condition.values()) >= IMAGES
        assert 0.0 <= system.phantom_macro_f1 <= 1.0
    assert result.generation["num_beams"] == 4 and result.generation["max_new_tokens"] == 8
    assert PHANTOM_NOTE in result.notes and len(result.examples) == IMAGES


def test_the_baseline_writes_the_most_frequent_training_target(result) -> None:
    train_pool = tiny_run(steps=1).pool(128)
    counts = Counter(pair.target for pair in draw_pairs(train_pool, corpus()))
    assert result.baseline_text == most_frequent_target(corpus(), train_pool)
    assert counts[result.baseline_text] == max(counts.values())


def test_the_paired_reports_themselves_score_perfect_clinical_f1() -> None:
    pool = build_pool(PoolConfig(split="test", size=10, image_size=64, seed=1), corpus())
    oracle = score_system("oracle", list(pool.targets), pool)
    assert oracle.phantom_macro_f1 == 1.0 and oracle.clinical.micro_f1 == 1.0
    assert oracle.text.bleu_4 == pytest.approx(1.0)


def test_macro_f1_counts_drawable_conditions_only() -> None:
    truth = [frozenset({"Cardiomegaly"}), frozenset({"No Finding"})]
    predicted = [frozenset({"Cardiomegaly", "Pneumonia"}), frozenset({"No Finding"})]
    scores = clinical_scores_from_labels(predicted, truth)
    assert scores.macro_f1 == pytest.approx(2 / 3)
    assert drawable_macro_f1(scores) == 1.0


def test_the_baseline_pool_comes_from_the_checkpoints_training_log(result, tmp_path) -> None:
    assert training_config_of(Path(result.checkpoint)) == tiny_run(steps=1)
    assert training_config_of(tmp_path) == TrainConfig()
