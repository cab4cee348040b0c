"""Phantom pools: split by patient, paired reports that label what the phantom shows, cached,
deterministic, and batches that augment training images only."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from state.errors import ConfigError
from tests.tools.radiology.training_support import corpus, link_cache
from tools.radiology.dataset import (
    PhantomPool,
    PoolConfig,
    TrainingBatches,
    build_pool,
    eval_pixels,
    load_pool,
    pool_path,
)
from tools.radiology.labeller import label_report
from tools.radiology.losses import mention_targets
from tools.radiology.pairing import report_conditions
from tools.radiology.phantom_spec import FINDING_CONDITIONS, finding_side

SIZE = 64
CONFIG = PoolConfig(split="train", size=12, image_size=SIZE, seed=3, reports_per_set=2)


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Path:
    return link_cache(tmp_path_factory.mktemp("cache"))


@pytest.fixture(scope="module")
def pool(cache) -> PhantomPool:
    return load_pool(cache, corpus(), CONFIG)


def test_no_patient_is_in_two_splits_and_pools_draw_from_their_own_split(cache) -> None:
    splits = corpus().splits
    uids = {
        name: {r.uid for r in getattr(splits, name)} for name in ("train", "validation", "test")
    }
    assert not uids["train"] & uids["validation"]
    assert not uids["train"] & uids["test"]
    assert not uids["validation"] & uids["test"]
    assert len(uids["train"]) == pytest.approx(0.7 * len(corpus().reports), abs=2)
    test = build_pool(PoolConfig(split="test", size=6, image_size=SIZE), corpus())
    assert set(test.report_uids) <= uids["test"]


def test_each_paired_report_labels_exactly_the_phantoms_conditions(pool) -> None:
    assert len(pool) == CONFIG.size and pool.images.shape == (CONFIG.size, SIZE, SIZE)
    assert pool.images.dtype == torch.uint8
    for index in range(len(pool)):
        assert report_conditions(pool.targets[index]) == frozenset(pool.spec(index).conditions())


def test_phantom_sides_follow_the_sides_the_report_names(pool) -> None:
    pairable = {r.uid: r for r in corpus().pairable("train")}
    checked = 0
    for index in range(len(pool)):
        report = pairable[pool.report_uids[index]]
        for condition, sides in report.sides.items():
            if not sides:
                continue
            drawn = {
                finding_side(name)
                for name in pool.spec(index).findings
                if condition in FINDING_CONDITIONS[name]
            }
            assert sides <= drawn
            checked += 1
    assert checked, "the pool should hold at least one report that names a side"


def test_aux_targets_are_the_binary_labels_of_the_paired_report_and_the_truth(pool) -> None:
    mentions = mention_targets([label_report(text) for text in pool.targets])
    positive = mentions == 1.0
    assert bool(pool.aux_targets[positive].eq(1.0).all())
    truth = torch.stack([torch.from_numpy(pool.spec(i).labels()) for i in range(len(pool))])
    torch.testing.assert_close(pool.aux_targets, truth)


def test_train_pools_use_only_the_shortest_reports_of_each_condition_set(pool) -> None:
    catalog = CONFIG.catalog(corpus())
    allowed = {r.uid for choices in catalog.choices for r in choices}
    assert set(pool.report_uids) <= allowed


def test_pools_are_deterministic_and_cached_on_disk(cache, pool) -> None:
    path = pool_path(cache, CONFIG, corpus())
    assert path.is_file()
    again = load_pool(cache, corpus(), CONFIG)
    assert torch.equal(again.images, pool.images) and again.targets == pool.targets
    rebuilt = build_pool(CONFIG, corpus())
    assert torch.equal(rebuilt.images, pool.images) and rebuilt.findings == pool.findings
    other = PoolConfig(split="train", size=12, image_size=SIZE, seed=4, reports_per_set=2)
    assert pool_path(cache, other, corpus()) != path


def test_batches_are_a_function_of_their_index_and_augment_only_for_training(pool) -> None:
    batches = TrainingBatches(pool, batch_size=4, seed=0)
    first, again = batches.batch(1), TrainingBatches(pool, batch_size=4, seed=0).batch(1)
    assert first.indices == again.indices
    torch.testing.assert_close(first.pixel_values, again.pixel_values)
    assert first.pixel_values.shape == (4, 3, SIZE, SIZE)
    assert first.targets == [pool.targets[i] for i in first.indices]
    plain = eval_pixels(pool, first.indices)
    assert plain.shape == first.pixel_values.shape
    assert not torch.allclose(plain, first.pixel_values)
    assert float(plain.min()) >= -1.0 and float(plain.max()) <= 1.0


def test_an_epoch_visits_every_phantom_once(pool) -> None:
    batches = TrainingBatches(pool, batch_size=4, seed=2)
    seen = [i for b in range(len(pool) // 4) for i in batches.batch(b).indices]
    assert sorted(seen) == list(range(len(pool)))
    next_epoch = [i for b in range(3, 6) for i in batches.batch(b).indices]
    assert sorted(next_epoch) == list(range(len(pool))) and next_epoch != seen


def test_bad_pool_settings_are_config_errors() -> None:
    with pytest.raises(ConfigError):
        PoolConfig(split="holdout", size=3, image_size=SIZE)  # type: ignore[arg-type]
    with pytest.raises(ConfigError):
        PoolConfig(split="train", size=0, image_size=SIZE)
