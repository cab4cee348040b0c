"""Evaluation on test phantoms: every table field for the model and the baseline, the baseline's
text, clinical scores against the phantoms' true findings, and the auxiliary head scored alone."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
import torch

from tests.tools.radiology.training_support import corpus, link_cache, tiny_run
from tools.models.embedder import MiniLMEmbedder
from tools.radiology.clinical_metrics import clinical_scores_from_labels
from tools.radiology.conditions import CONDITIONS
from tools.radiology.dataset import PoolConfig, build_pool, draw_pairs
from tools.radiology.evaluate import (
    PHANTOM_NOTE,
    EvaluationResult,
    aux_conditions,
    drawable_macro_f1,
    evaluate_checkpoint,
    most_frequent_target,
    score_aux_head,
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
    aux = result.aux_head
    assert aux.threshold == 0.5 and 0.0 <= aux.phantom_macro_f1 <= 1.0
    assert sum(s.support for s in aux.clinical.per_condition.values()) >= IMAGES


def test_the_aux_head_counts_a_condition_above_the_threshold_with_its_implied_parent() -> None:
    probs = torch.zeros(3, len(CONDITIONS))
    probs[0, CONDITIONS.index("Cardiomegaly")] = 0.9
    probs[0, CONDITIONS.index("Edema")] = 0.5
    probs[1, CONDITIONS.index("Consolidation")] = 0.7
    assert aux_conditions(probs) == [
        frozenset({"Cardiomegaly"}),
        frozenset({"Consolidation", "Lung Opacity"}),
        frozenset(),
    ]
    assert aux_conditions(probs, threshold=0.4)[0] == {"Cardiomegaly", "Edema"}


def test_an_aux_head_that_matches_the_truth_scores_perfect_and_a_silent_one_zero() -> None:
    pool = build_pool(PoolConfig(split="test", size=10, image_size=64, seed=1), corpus())
    truth = torch.zeros(len(pool), len(CONDITIONS))
    for row, conditions in enumerate(pool.true_conditions()):
        for condition in conditions:
            truth[row, CONDITIONS.index(condition)] = 1.0
    assert score_aux_head(truth, pool).phantom_macro_f1 == 1.0
    assert score_aux_head(torch.zeros_like(truth), pool).phantom_macro_f1 == 0.0


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
