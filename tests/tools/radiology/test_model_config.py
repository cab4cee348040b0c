"""The CheXQuery-MedVLM config presets and the full model's size against spec §10.1."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
import torch

from state.errors import ConfigError
from tools.radiology.config import CheXQueryConfig
from tools.radiology.lora import is_lora_parameter
from tools.radiology.model import CheXQueryMedVLM

SPEC_TOTAL = 350e6
SPEC_TRAINABLE = 16e6


def _count(module: torch.nn.Module, *, lora: bool | None = None) -> int:
    return sum(
        p.numel()
        for name, p in module.named_parameters()
        if lora is None or is_lora_parameter(name) == lora
    )


def _attention(width: int) -> int:
    return 4 * width * width + 4 * width  # in-projection (q, k, v) and out-projection


def test_full_config_round_trips_through_json() -> None:
    config = CheXQueryConfig.full()
    again = CheXQueryConfig.from_dict(json.loads(json.dumps(config.to_dict())))
    assert again.to_dict() == config.to_dict()
    assert again.grid_size == (24, 24)
    assert again.num_patches == 576
    assert again.num_visual_tokens == 11
    assert again.text.scale_decoder_outputs is False  # Flan-T5: untied head, no rescaling


def test_tiny_config_is_small_enough_for_cpu() -> None:
    config = CheXQueryConfig.tiny(vocab_size=500)
    assert config.image_size <= 128
    assert config.hidden_size <= 128
    assert config.text.vocab_size == 500
    assert config.num_queries == 20


def test_rejects_vision_and_decoder_widths_that_differ() -> None:
    config = CheXQueryConfig.tiny()
    with pytest.raises(ConfigError, match="must match"):
        config.with_parts(text=CheXQueryConfig.full().text)


def test_rejects_unequal_t5_encoder_and_decoder_depths() -> None:
    config = CheXQueryConfig.tiny()
    text = config.text.__class__.from_dict({**config.text.to_dict(), "num_layers": 1})
    with pytest.raises(ConfigError, match="same number of layers"):
        replace(config, text=text)


def test_rejects_an_unknown_preset() -> None:
    with pytest.raises(ConfigError, match="unknown radiology model config"):
        CheXQueryConfig.preset("huge", vocab_size=100)


def test_full_model_parameter_counts_against_spec_table() -> None:
    """Spec §10.1 on the meta device: the total within 10%, and every row it states.

    Rows whose figure follows from the spec's sizes are checked within 10%. The spec's
    cross-attention (~12M), fusion (~2M) and Flan-T5 LoRA (~1.5M) figures are smaller than
    the sizes it states (2 × [MHA 768 + FFN 768→3072→768]; an MHA pooling; r=16 on q, k, v,
    o of 12 decoder blocks × 2 attentions), so those rows are checked exactly against the
    stated sizes, and the trainable total is printed next to the spec's ~16M.
    """
    with torch.device("meta"):
        model = CheXQueryMedVLM(CheXQueryConfig.full())
    model.set_phase(2)
    d, ffn = 768, 3072
    rows = {
        "SigLIP": (_count(model.vision, lora=False), 86e6),
        "SigLIP LoRA": (_count(model.vision, lora=True), 300e3),
        "Condition queries": (_count(model.condition_queries), 10.7e3),
        "Anatomical queries": (_count(model.anatomical_queries), 4.6e3),
        "Auxiliary head": (_count(model.aux_head), 300e3),
        "Flan-T5": (_count(model.decoder, lora=False), 248e6),
    }
    exact = {  # name: (measured, from the spec's stated sizes, the spec's figure)
        "Cross-attention": (
            _count(model.cross_attention),
            2 * (_attention(d) + d * ffn + ffn + ffn * d + d + 4 * d),
            12e6,
        ),
        "Gated fusion": (
            _count(model.fusion),
            (2 * d * 192 + 192 + 192 + 1) + 10 * d + _attention(d),
            2e6,
        ),
        "Flan-T5 LoRA": (_count(model.decoder, lora=True), 12 * 2 * 4 * 16 * (d + d), 1.5e6),
    }
    total, trainable = model.parameter_count(), model.trainable_parameter_count()
    print(f"\n{'component':<20}{'measured':>14}{'spec':>14}")
    for name, (measured, spec) in rows.items():
        print(f"{name:<20}{measured:>14,}{int(spec):>14,}")
    for name, (measured, _, spec) in exact.items():
        print(f"{name:<20}{measured:>14,}{int(spec):>14,}  (exact formula)")
    print(f"{'total':<20}{total:>14,}{int(SPEC_TOTAL):>14,}  ({total / SPEC_TOTAL:.3f}×)")
    print(
        f"{'trainable, phase 2':<20}{trainable:>14,}{int(SPEC_TRAINABLE):>14,}"
        f"  ({trainable / SPEC_TRAINABLE:.3f}×)"
    )
    assert abs(total / SPEC_TOTAL - 1) <= 0.10
    for name, (measured, spec) in rows.items():
        assert abs(measured / spec - 1) <= 0.10, name
    for name, (measured, expected, _) in exact.items():
        assert measured == expected, name
    trainable_rows = ("SigLIP LoRA", "Condition queries", "Anatomical queries", "Auxiliary head")
    expected_trainable = sum(rows[name][0] for name in trainable_rows) + sum(
        measured for measured, _, _ in exact.values()
    )
    assert trainable == expected_trainable
    assert trainable / total < 0.06  # spec: ~4.5% of the model trains
