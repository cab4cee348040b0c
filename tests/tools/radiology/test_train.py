"""The training loop: each phase trains only its parts, from-scratch mode trains the backbones,
losses stay finite, checkpoints carry the card, and a resumed run continues exactly."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from peft.tuners.tuners_utils import BaseTunerLayer
from safetensors.torch import load_file

import tools.radiology.train as train_module
from state.errors import AssetError, ConfigError
from tests.tools.radiology.training_support import corpus, link_cache, tiny_run
from tools.models.embedder import MiniLMEmbedder
from tools.radiology.dataset import TrainingBatches, eval_pixels, load_pool
from tools.radiology.decoder_polish import polish_decoder
from tools.radiology.phases import PHASES
from tools.radiology.train import (
    TRAINER_STATE,
    TRAINING_LOG,
    load_trainer_state,
    train,
    unfreeze_backbones,
)
from tools.radiology.train_config import TrainConfig, TrainPlan, demo_config, warmup_cosine
from tools.radiology.vision_warmup import warm_up_vision
from tools.radiology.weights import build_model, load_checkpoint, save_checkpoint

HEAD_PARTS = ("condition_queries.", "anatomical_queries.", "cross_attention.", "fusion.")


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Path:
    return link_cache(tmp_path_factory.mktemp("cache"))


@pytest.fixture(scope="module")
def initial(cache, tmp_path_factory) -> Path:
    torch.manual_seed(0)
    bundle = build_model(
        "tiny",
        cache_dir=cache,
        report_texts=corpus().report_texts,
        embedder=MiniLMEmbedder.load("cpu", quantize=False, trace=False),
    )
    return save_checkpoint(bundle, tmp_path_factory.mktemp("initial") / "model")


def _weights(path: Path) -> dict[str, torch.Tensor]:
    return load_file(str(path / "model.safetensors"))


def _changed(before: dict[str, torch.Tensor], after: dict[str, torch.Tensor]) -> set[str]:
    return {name for name, value in before.items() if not torch.equal(value, after[name])}


def _train_from(initial: Path, cache: Path, out: Path, config: TrainConfig) -> set[str]:
    train(config, cache_dir=cache, out_dir=out, init_from=initial, corpus=corpus(), threads=1)
    return _changed(_weights(initial), _weights(out))


def test_phase_1_trains_queries_attention_fusion_and_aux_head_only(initial, cache, tmp_path):
    changed = _train_from(initial, cache, tmp_path / "p1", tiny_run(phase=1))
    assert changed
    assert all(name.startswith((*HEAD_PARTS, "aux_head.")) for name in changed)
    assert any(name.startswith("aux_head.") for name in changed)
    card = load_checkpoint(tmp_path / "p1").card
    assert card.phantom_trained and card.trained_phases == (1,)
    assert (tmp_path / "p1" / TRAINER_STATE).is_file()
    assert (tmp_path / "p1" / TRAINING_LOG).is_file()


def test_phase_2_adds_both_lora_adapters_but_never_base_weights(initial, cache, tmp_path):
    changed = _train_from(initial, cache, tmp_path / "p2", tiny_run(phase=2))
    backbone = {n for n in changed if n.startswith(("vision.", "decoder."))}
    assert backbone and all(".lora_" in name for name in backbone)
    assert any(n.startswith("vision.") for n in backbone)
    assert any(n.startswith("decoder.") for n in backbone)


def test_phase_3_freezes_vision_and_aux_head(initial, cache, tmp_path):
    changed = _train_from(initial, cache, tmp_path / "p3", tiny_run(phase=3))
    assert not any(n.startswith(("vision.", "aux_head.")) for n in changed)
    assert any(n.startswith("decoder.") and ".lora_" in n for n in changed)


def test_from_scratch_phase_3_keeps_siglip_frozen(initial, cache, tmp_path):
    changed = _train_from(initial, cache, tmp_path / "s3", tiny_run(phase=3, train_backbones=True))
    assert not any(n.startswith(("vision.", "aux_head.")) for n in changed)
    assert any(n.startswith("decoder.t5.decoder.") and ".lora_" not in n for n in changed)


def test_from_scratch_mode_trains_backbone_weights_but_not_the_bypassed_encoder(
    initial, cache, tmp_path
):
    changed = _train_from(initial, cache, tmp_path / "s", tiny_run(train_backbones=True))
    assert any(n.startswith("vision.siglip.") and ".lora_" not in n for n in changed)
    assert any(n.startswith("decoder.t5.decoder.") and ".lora_" not in n for n in changed)
    assert not any(n.startswith("decoder.t5.encoder.") or ".lora_" in n for n in changed)


def test_vision_warm_up_trains_the_encoder_side_only_and_is_logged(initial, cache, tmp_path):
    config = tiny_run(steps=1, train_backbones=True, vision_warmup_steps=3, vision_warmup_batch=2)
    out = tmp_path / "warm"
    calls: list[int] = []
    real = train_module.warm_up_vision

    def counted(*args: object, **kwargs: object) -> list[float]:
        losses = real(*args, **kwargs)  # type: ignore[arg-type]
        calls.append(len(losses))
        return losses

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(train_module, "warm_up_vision", counted)
        train(config, cache_dir=cache, out_dir=out, init_from=initial, corpus=corpus(), threads=1)
        assert calls == [3]
        log = json.loads((out / TRAINING_LOG).read_text(encoding="utf-8"))
        assert log["vision_warmup"]["steps"] == 3
        assert math.isfinite(log["vision_warmup"]["final_aux_loss"])
        train(config, cache_dir=cache, out_dir=out, resume=True, corpus=corpus(), threads=1)
        assert calls == [3]  # a resumed run never repeats the warm-up


def test_warm_up_vision_leaves_the_decoder_alone(initial, cache):
    bundle = load_checkpoint(initial)
    model = bundle.model
    model.set_phase(1)
    unfreeze_backbones(model)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    pool = load_pool(cache, corpus(), tiny_run().pool(model.config.image_size))
    losses = warm_up_vision(
        model,
        TrainingBatches(pool, 2, seed=0),
        steps=2,
        learning_rate=1e-3,
        device=torch.device("cpu"),
    )
    assert len(losses) == 2 and all(math.isfinite(v) for v in losses)
    changed = {n for n, p in model.named_parameters() if not torch.equal(p, before[n])}
    assert any(n.startswith("vision.siglip.") for n in changed)
    assert any(n.startswith("aux_head.") for n in changed)
    assert not any(n.startswith("decoder.") for n in changed)
    with pytest.raises(ConfigError):
        warm_up_vision(
            model,
            TrainingBatches(pool, 2, seed=0),
            steps=0,
            learning_rate=1e-3,
            device=torch.device("cpu"),
        )


def test_decoder_polish_trains_fusion_and_decoder_and_keeps_the_aux_probabilities(initial, cache):
    bundle = load_checkpoint(initial)
    model = bundle.model
    model.set_phase(1)
    unfreeze_backbones(model)
    flags = {n: p.requires_grad for n, p in model.named_parameters()}
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    pool = load_pool(cache, corpus(), tiny_run().pool(model.config.image_size))
    pixels = eval_pixels(pool, range(2))
    with torch.no_grad():
        probs_before = model.eval().encode(pixels).aux_probs
    losses = polish_decoder(
        model,
        TrainingBatches(pool, 2, seed=0),
        bundle.prompter,
        steps=2,
        learning_rate=1e-3,
        device=torch.device("cpu"),
    )
    assert len(losses) == 2 and all(math.isfinite(v) for v in losses)
    changed = {n for n, p in model.named_parameters() if not torch.equal(p, before[n])}
    assert any(n.startswith("decoder.t5.decoder.") for n in changed)
    assert any(n.startswith("fusion.") for n in changed)
    assert all(n.startswith(("decoder.", "fusion.")) for n in changed)
    assert not any(".lora_" in n or n.startswith("decoder.t5.encoder.") for n in changed)
    with torch.no_grad():
        torch.testing.assert_close(model.encode(pixels).aux_probs, probs_before)
    assert {n: p.requires_grad for n, p in model.named_parameters()} == flags
    with pytest.raises(ConfigError):
        polish_decoder(
            model,
            TrainingBatches(pool, 2, seed=0),
            bundle.prompter,
            steps=0,
            learning_rate=1e-3,
            device=torch.device("cpu"),
        )


def test_decoder_polish_runs_once_after_the_loop_and_again_if_it_was_interrupted(
    initial, cache, tmp_path, monkeypatch
):
    config = tiny_run(steps=1, train_backbones=True, decoder_polish_steps=2, decoder_polish_batch=2)
    out = tmp_path / "polish"
    calls: list[int] = []

    def interrupted(*args: object, **kwargs: object) -> list[float]:
        calls.append(0)
        raise KeyboardInterrupt

    monkeypatch.setattr(train_module, "polish_decoder", interrupted)
    with pytest.raises(KeyboardInterrupt):
        train(config, cache_dir=cache, out_dir=out, init_from=initial, corpus=corpus(), threads=1)
    assert load_trainer_state(out)["step"] == 1 and not load_trainer_state(out)["decoder_polish"]
    unpolished = _weights(out)

    def counted(*args: object, **kwargs: object) -> list[float]:
        losses = polish_decoder(*args, **kwargs)  # type: ignore[arg-type]
        calls.append(len(losses))
        return losses

    monkeypatch.setattr(train_module, "polish_decoder", counted)
    result = train(config, cache_dir=cache, out_dir=out, resume=True, corpus=corpus(), threads=1)
    assert calls == [0, 2] and result.steps == 1
    assert any(name.startswith("decoder.") for name in _changed(unpolished, _weights(out)))
    log = json.loads((out / TRAINING_LOG).read_text(encoding="utf-8"))
    assert log["decoder_polish"]["steps"] == 2
    assert math.isfinite(log["decoder_polish"]["final_gen_loss"])
    train(config, cache_dir=cache, out_dir=out, resume=True, corpus=corpus(), threads=1)
    assert calls == [0, 2]  # a finished polish is never repeated


def _adapters_enabled(model: torch.nn.Module) -> list[bool]:
    return [
        not layer.disable_adapters for layer in model.modules() if isinstance(layer, BaseTunerLayer)
    ]


def test_from_scratch_mode_switches_off_adapters_only_while_they_are_still_zero(initial):
    fresh = load_checkpoint(initial).model
    unfreeze_backbones(fresh)
    assert _adapters_enabled(fresh) and not any(_adapters_enabled(fresh))

    trained = load_checkpoint(initial).model
    lora_b = next(p for n, p in trained.named_parameters() if ".lora_B" in n)
    with torch.no_grad():
        lora_b.fill_(0.5)
    unfreeze_backbones(trained)
    assert all(_adapters_enabled(trained))


def test_a_resumed_run_ends_where_the_uninterrupted_run_ends(initial, cache, tmp_path, monkeypatch):
    config = tiny_run(steps=4, checkpoint_every=2, train_backbones=True)
    straight = tmp_path / "straight"
    train(config, cache_dir=cache, out_dir=straight, init_from=initial, corpus=corpus(), threads=1)

    crashed = tmp_path / "crashed"
    save_run = train_module.save_run

    def save_then_crash(*args: object, **kwargs: object) -> None:
        save_run(*args, **kwargs)  # type: ignore[arg-type]
        raise KeyboardInterrupt

    monkeypatch.setattr(train_module, "save_run", save_then_crash)
    with pytest.raises(KeyboardInterrupt):
        train(
            config, cache_dir=cache, out_dir=crashed, init_from=initial, corpus=corpus(), threads=1
        )
    monkeypatch.setattr(train_module, "save_run", save_run)
    assert load_trainer_state(crashed)["step"] == 2

    result = train(
        TrainConfig(), cache_dir=cache, out_dir=crashed, resume=True, corpus=corpus(), threads=1
    )
    assert (result.resumed_from, result.steps) == (2, 4)
    expected, got = _weights(straight), _weights(crashed)
    for name, value in expected.items():
        torch.testing.assert_close(got[name], value, rtol=0, atol=1e-6, msg=name)
    a, b = load_trainer_state(straight), load_trainer_state(crashed)
    assert a["step"] == b["step"] == 4
    for key, state in a["optimizer"]["state"].items():
        torch.testing.assert_close(b["optimizer"]["state"][key]["exp_avg"], state["exp_avg"])
    assert load_checkpoint(crashed).card.trained_phases == (1,)


def test_resume_without_a_trainer_state_is_an_asset_error(cache, tmp_path):
    with pytest.raises(AssetError):
        train(
            TrainConfig(),
            cache_dir=cache,
            out_dir=tmp_path,
            resume=True,
            corpus=corpus(),
            threads=1,
        )


def test_plan_takes_the_phase_values_unless_overridden():
    plan = TrainConfig(phase=2).plan(PHASES[2], pool_size=320)
    assert (plan.micro_batch, plan.accumulation, plan.effective_batch) == (8, 4, 32)
    assert plan.learning_rate == 5e-5
    assert plan.total_steps == 15 * 10 and plan.warmup_steps == 150
    demo = demo_config().plan(PHASES[1], pool_size=2000)
    assert demo.effective_batch == PHASES[1].effective_batch_size
    assert demo.learning_rate == demo_config().learning_rate


def test_learning_rate_warms_up_linearly_then_decays_by_cosine_to_the_floor():
    plan = TrainPlan(
        micro_batch=1, accumulation=1, learning_rate=1.0, warmup_steps=10, total_steps=110
    )
    factor = warmup_cosine(plan, min_ratio=0.1)
    assert factor(0) == pytest.approx(0.1) and factor(9) == pytest.approx(1.0)
    assert factor(10) == pytest.approx(1.0)
    assert factor(60) == pytest.approx(0.55)
    assert factor(110) == pytest.approx(0.1)
    assert all(factor(s) >= factor(s + 1) for s in range(10, 110))


def test_inconsistent_settings_are_config_errors():
    with pytest.raises(ConfigError):
        TrainConfig(phase=4)
    with pytest.raises(ConfigError):
        TrainConfig(vision_warmup_steps=-1)
    with pytest.raises(ConfigError):
        TrainConfig(vision_warmup_lr=0.0)
    with pytest.raises(ConfigError):
        TrainConfig(decoder_polish_steps=-1)
    with pytest.raises(ConfigError):
        TrainConfig(decoder_polish_batch=0)
    with pytest.raises(ConfigError):
        TrainConfig(micro_batch=3, effective_batch=32).plan(PHASES[1], pool_size=10)
    with pytest.raises(ConfigError):
        TrainConfig.from_dict({**TrainConfig().to_dict(), "epochs": 3})
    assert TrainConfig.from_dict(replace(demo_config(), seed=5).to_dict()).seed == 5
