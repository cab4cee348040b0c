"""The radiology service: one load through the registry, batched concurrent requests, checkpoints.

Uses a tiny random-weight checkpoint (`checkpoint_support`) and real phantom films.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import torch

from state.errors import AssetError, InputError
from tests.tools.radiology.checkpoint_support import FAST_DECODING, write_tiny_checkpoint
from tests.tools.radiology.phantom_support import lung_masks
from tools.models.registry import ModelRegistry
from tools.radiology.inference import RadiologyInference
from tools.radiology.phantoms import write_phantom
from tools.radiology.service import (
    DEMO_MODEL_DIR,
    RadiologyService,
    demo_checkpoint_dir,
    find_checkpoint,
)

FINDINGS = ("", "cardiomegaly", "effusion_left", "pneumothorax_right")


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.set_num_threads(1)
    return write_tiny_checkpoint(tmp_path_factory.mktemp("ckpt") / "tiny")


@pytest.fixture(scope="module")
def films(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    folder = tmp_path_factory.mktemp("films")
    return [
        write_phantom(f, folder / f"film{i}.png", seed=i, size=160, masks=lung_masks())
        for i, f in enumerate(FINDINGS)
    ]


def test_concurrent_requests_share_one_batch_and_equal_single_requests(
    checkpoint: Path, films: list[Path], tmp_path: Path
) -> None:
    registry = ModelRegistry("cpu")
    service = RadiologyService(
        registry, checkpoint, tmp_path / "heat", generation=FAST_DECODING, window_s=0.5
    )
    service.engine()  # load first, so every thread reaches the queue within the window
    results: dict[int, object] = {}
    start = threading.Barrier(len(films))

    def ask(index: int) -> None:
        start.wait()
        results[index] = service.report(films[index])

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(len(films))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    sizes = service.batch_sizes
    service.close()
    assert sum(sizes) == len(films) and max(sizes) > 1, sizes
    single = RadiologyInference.load(checkpoint, torch.device("cpu"), FAST_DECODING)
    for index, film in enumerate(films):
        alone = single.run(film, tmp_path / "alone")
        batched = results[index]
        assert batched.text == alone.text
        assert batched.image_digest == alone.image_digest
        for condition, p in alone.aux_probabilities.items():
            assert batched.aux_probabilities[condition] == pytest.approx(p, abs=1e-5)
        assert batched.gate == pytest.approx(alone.gate, abs=1e-5)
    assert list(registry.reports()) == [service.registry_key(checkpoint)]


def test_the_model_loads_once_for_every_service_on_the_same_checkpoint(
    checkpoint: Path, films: list[Path], tmp_path: Path
) -> None:
    registry = ModelRegistry("cpu")
    first = RadiologyService(registry, checkpoint, tmp_path, generation=FAST_DECODING)
    second = RadiologyService(registry, checkpoint, tmp_path, generation=FAST_DECODING)
    assert first.engine() is second.engine()
    assert len(registry.reports()) == 1
    assert registry.reports()[first.registry_key(checkpoint)].device == "cpu"
    reports = first.reports(films[:2])
    assert [r.image_digest for r in reports] == [
        first.engine().prepare(f).digest for f in films[:2]
    ]
    first.close()
    second.close()


def test_a_bad_image_fails_its_own_request_only(
    checkpoint: Path, films: list[Path], tmp_path: Path
) -> None:
    service = RadiologyService(ModelRegistry("cpu"), checkpoint, tmp_path, generation=FAST_DECODING)
    broken = tmp_path / "broken.png"
    broken.write_bytes(films[0].read_bytes()[:300])
    with pytest.raises(InputError, match=r"broken\.png"):
        service.report(broken)
    assert service.report(films[1]).image_digest
    service.close()


def test_checkpoint_lookup_prefers_configured_then_cache_then_packaged(
    checkpoint: Path, tmp_path: Path
) -> None:
    assert find_checkpoint(checkpoint, tmp_path) == checkpoint
    with pytest.raises(AssetError, match="is not a checkpoint"):
        find_checkpoint(tmp_path / "nowhere", tmp_path)
    cache = tmp_path / "cache"
    if DEMO_MODEL_DIR.is_dir():
        assert find_checkpoint(None, cache) == DEMO_MODEL_DIR
    else:
        with pytest.raises(AssetError, match="medgraph radiology train --demo"):
            find_checkpoint(None, cache)
    cached = demo_checkpoint_dir(cache)
    cached.parent.mkdir(parents=True)
    cached.symlink_to(checkpoint)
    assert find_checkpoint(None, cache) == cached


def test_a_checkpoint_built_after_start_up_is_found_on_the_next_request(
    checkpoint: Path, films: list[Path], tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    service = RadiologyService(
        ModelRegistry("cpu"),
        lambda: find_checkpoint(tmp_path / "later", cache),
        tmp_path,
        generation=FAST_DECODING,
    )
    with pytest.raises(AssetError, match="not a checkpoint"):
        service.report(films[0])
    (tmp_path / "later").symlink_to(checkpoint)
    assert service.report(films[0]).model_id
    service.close()


def test_the_worker_thread_count_leaves_the_callers_alone(
    checkpoint: Path, films: list[Path], tmp_path: Path
) -> None:
    torch.set_num_threads(2)
    seen: list[int] = []
    service = RadiologyService(
        ModelRegistry("cpu"), checkpoint, tmp_path, generation=FAST_DECODING, threads=1
    )
    engine = service.engine()
    predict = engine.predict

    def spy(images):
        seen.append(torch.get_num_threads())
        return predict(images)

    engine.predict = spy  # type: ignore[method-assign]
    service.report(films[0])
    service.close()
    engine.predict = predict  # type: ignore[method-assign]
    assert seen == [1] and torch.get_num_threads() == 2
    torch.set_num_threads(1)
