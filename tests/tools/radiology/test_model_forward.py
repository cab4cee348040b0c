"""The tiny CheXQuery-MedVLM on CPU: losses, phase freezing, attention maps, gate, visual tokens."""

from __future__ import annotations

import pytest
import torch
from torch.nn import functional as F

from state.errors import ConfigError, InputError
from tools.radiology.conditions import CONDITIONS
from tools.radiology.config import CheXQueryConfig
from tools.radiology.lora import is_lora_parameter
from tools.radiology.losses import (
    IGNORE_INDEX,
    UNLABELLED,
    auxiliary_loss,
    generation_loss,
    mention_targets,
)
from tools.radiology.model import CheXQueryMedVLM
from tools.radiology.phases import PHASES

VOCAB = 300


@pytest.fixture(scope="module")
def model() -> CheXQueryMedVLM:
    torch.manual_seed(0)
    return CheXQueryMedVLM(CheXQueryConfig.tiny(vocab_size=VOCAB))


def _batch(config: CheXQueryConfig, size: int = 2) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(1)
    side = config.image_size
    decoder_input_ids = torch.randint(3, VOCAB, (size, 12), generator=generator)
    decoder_input_ids[:, 0] = 0
    labels = torch.randint(3, VOCAB, (size, 12), generator=generator)
    labels[:, :4] = IGNORE_INDEX  # prompt positions
    aux = torch.full((size, len(CONDITIONS)), UNLABELLED)
    aux[:, 2] = 1.0
    aux[:, 10] = 0.0
    return {
        "pixel_values": torch.rand(size, 3, side, side, generator=generator) * 2 - 1,
        "decoder_input_ids": decoder_input_ids,
        "labels": labels,
        "aux_targets": aux,
    }


def test_forward_backward_gives_finite_losses_weighted_by_the_phase(model) -> None:
    model.train()
    settings = model.set_phase(1)
    out = model(**_batch(model.config))
    assert out.loss is not None and out.generation_loss is not None
    assert out.auxiliary_loss is not None
    expected = settings.lambda_gen * out.generation_loss + settings.lambda_aux * out.auxiliary_loss
    torch.testing.assert_close(out.loss, expected)
    assert torch.isfinite(out.loss)
    model.zero_grad()
    out.loss.backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert grads and all(g is not None and torch.isfinite(g).all() for g in grads)


@pytest.mark.parametrize("phase", [1, 2, 3])
def test_gradients_reach_only_the_parts_each_phase_trains(model, phase) -> None:
    model.train()
    settings = model.set_phase(phase)
    model.zero_grad(set_to_none=True)
    model(**_batch(model.config)).loss.backward()
    got_grad = {
        name
        for name, p in model.named_parameters()
        if p.grad is not None and bool(p.grad.abs().sum() > 0)
    }
    trainable = {name for name, p in model.named_parameters() if p.requires_grad}
    assert got_grad <= trainable

    def touched(prefix: str, lora: bool | None = None) -> bool:
        return any(
            name.startswith(prefix) and (lora is None or is_lora_parameter(name) == lora)
            for name in got_grad
        )

    assert not touched("vision.", lora=False)  # base SigLIP never trains
    assert not touched("decoder.", lora=False)  # base Flan-T5 never trains
    assert touched("vision.", lora=True) == settings.train_vision_lora
    assert touched("decoder.", lora=True) == settings.train_decoder_lora
    assert touched("aux_head.") == settings.train_aux_head
    for part in ("condition_queries.", "anatomical_queries.", "cross_attention.", "fusion."):
        assert touched(part), part


def test_phase_three_turns_the_auxiliary_loss_off(model) -> None:
    model.set_phase(3)
    out = model(**_batch(model.config))
    assert out.generation_loss is not None
    torch.testing.assert_close(out.loss, out.generation_loss)
    assert PHASES[3].lambda_aux == 0.0


def test_phase_two_smooths_labels(model) -> None:
    model.eval()
    batch = _batch(model.config)
    model.set_phase(2)
    with torch.no_grad():
        out = model(**batch)
    assert out.logits is not None
    plain = generation_loss(out.logits, batch["labels"])
    smoothed = generation_loss(out.logits, batch["labels"], label_smoothing=0.1)
    torch.testing.assert_close(out.generation_loss, smoothed)
    assert not torch.allclose(plain, smoothed)


def test_attention_maps_lie_on_the_patch_grid_and_sum_to_one(model) -> None:
    model.eval()
    with torch.no_grad():
        encoding = model.encode(_batch(model.config)["pixel_values"])
    rows, cols = model.config.grid_size
    assert encoding.attention_maps.shape == (2, 20, rows, cols)
    assert encoding.attentions.shape == (2, 2, 20, rows * cols)
    sums = encoding.attention_maps.sum(dim=(-1, -2))
    torch.testing.assert_close(sums, torch.ones_like(sums))
    assert bool((encoding.attention_maps >= 0).all())


def test_gate_is_inside_zero_one_and_there_are_eleven_visual_tokens(model) -> None:
    model.eval()
    with torch.no_grad():
        encoding = model.encode(_batch(model.config, size=3)["pixel_values"])
    assert encoding.gate.shape == (3, 1)
    assert bool(((encoding.gate > 0) & (encoding.gate < 1)).all())
    assert encoding.visual_tokens.shape == (3, 11, model.config.hidden_size)
    assert encoding.aux_probs.shape == (3, 14)
    assert bool(((encoding.aux_probs > 0) & (encoding.aux_probs < 1)).all())


def test_rejects_images_of_the_wrong_shape(model) -> None:
    with pytest.raises(InputError, match="pixel_values"):
        model.encode(torch.zeros(1, 1, 128, 128))
    with pytest.raises(InputError, match="pixel_values"):
        model.encode(torch.zeros(1, 3, 64, 64))


def test_labels_without_decoder_inputs_are_rejected(model) -> None:
    batch = _batch(model.config)
    with pytest.raises(InputError, match="decoder_input_ids"):
        model(batch["pixel_values"], labels=batch["labels"])


def test_unknown_phase_is_a_config_error(model) -> None:
    with pytest.raises(ConfigError, match="1, 2 or 3"):
        model.set_phase(4)


def test_auxiliary_loss_skips_blank_conditions() -> None:
    logits = torch.tensor([[2.0, -1.0, 0.5]])
    targets = torch.tensor([[1.0, UNLABELLED, 0.0]])
    expected = F.binary_cross_entropy_with_logits(
        torch.tensor([2.0, 0.5]), torch.tensor([1.0, 0.0])
    )
    torch.testing.assert_close(auxiliary_loss(logits, targets), expected)
    assert auxiliary_loss(logits, torch.full_like(logits, UNLABELLED)).item() == 0.0


def test_generation_loss_is_zero_when_nothing_is_labelled() -> None:
    logits = torch.randn(1, 3, 10, requires_grad=True)
    loss = generation_loss(logits, torch.full((1, 3), IGNORE_INDEX))
    assert loss.item() == 0.0
    loss.backward()  # still part of the graph


def test_mention_targets_map_positive_negative_uncertain_and_blank() -> None:
    labels = [{"Cardiomegaly": "positive", "Edema": "negative", "Pneumonia": "uncertain"}]
    ones = mention_targets(labels)
    index = CONDITIONS.index
    assert ones[0, index("Cardiomegaly")] == 1.0
    assert ones[0, index("Edema")] == 0.0
    assert ones[0, index("Pneumonia")] == 1.0
    assert ones[0, index("Fracture")] == UNLABELLED
    skipped = mention_targets(labels, uncertain_as=None)
    assert skipped[0, index("Pneumonia")] == UNLABELLED
    with pytest.raises(InputError, match="unknown conditions"):
        mention_targets([{"Dextrocardia": "positive"}])
