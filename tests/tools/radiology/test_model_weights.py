"""Building the model from local pretrained folders or configs; checkpoint save and load."""

from __future__ import annotations

import json

import pytest
import torch
from transformers import SiglipVisionModel, T5ForConditionalGeneration

from state.errors import AssetError, ConfigError
from tests.tools.radiology.model_support import iu_report_texts, iu_tokenizer, write_tiny_bert
from tools.models.embedder import MiniLMEmbedder
from tools.radiology.config import CheXQueryConfig
from tools.radiology.decoder import GenerationSettings, untie_lm_head
from tools.radiology.weights import (
    RadiologyModel,
    build_model,
    load_checkpoint,
    save_checkpoint,
)

SETTINGS = GenerationSettings(num_beams=2, min_new_tokens=4, max_new_tokens=10)


@pytest.fixture(scope="module")
def embedder() -> MiniLMEmbedder:
    return MiniLMEmbedder.load("cpu", quantize=False, trace=False)


@pytest.fixture(scope="module")
def bundle(tmp_path_factory, embedder) -> RadiologyModel:
    torch.manual_seed(0)
    return build_model(
        "tiny",
        cache_dir=tmp_path_factory.mktemp("cache"),
        report_texts=iu_report_texts,
        embedder=embedder,
    )


def _images(bundle: RadiologyModel) -> torch.Tensor:
    side = bundle.model.config.image_size
    return torch.rand(2, 3, side, side, generator=torch.Generator().manual_seed(5)) * 2 - 1


def test_without_weights_the_card_says_random_init(bundle) -> None:
    card = bundle.card.to_dict()
    assert card["pretrained"] is False
    assert card["pretrained_vision"] is False and card["pretrained_decoder"] is False
    assert card["query_init"] == "minilm"
    assert card["tokenizer"] == "iu-unigram"
    assert card["phantom_trained"] is False
    assert bundle.model.config.text.vocab_size == len(bundle.tokenizer)


def test_checkpoint_round_trip_gives_identical_outputs(bundle, tmp_path) -> None:
    model = bundle.model.eval()
    images = _images(bundle)
    before = model.generate(images, bundle.prompter.prefix(2), SETTINGS)
    trained = RadiologyModel(model, bundle.tokenizer, bundle.card.with_training(1, phantom=True))
    save_checkpoint(trained, tmp_path / "ckpt")
    save_checkpoint(trained, tmp_path / "ckpt")  # replacing an existing checkpoint works
    loaded = load_checkpoint(tmp_path / "ckpt")
    after = loaded.model.generate(images, loaded.prompter.prefix(2), SETTINGS)
    assert torch.equal(before.token_ids, after.token_ids)
    assert torch.equal(before.encoding.aux_logits, after.encoding.aux_logits)
    assert torch.equal(before.encoding.attention_maps, after.encoding.attention_maps)
    original, restored = model.state_dict(), loaded.model.state_dict()
    assert original.keys() == restored.keys()
    assert all(torch.equal(original[key], restored[key]) for key in original)
    assert loaded.card.phantom_trained is True and loaded.card.trained_phases == (1,)
    assert loaded.tokenizer.get_vocab() == bundle.tokenizer.get_vocab()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt"]  # no staging leftovers


def test_loading_a_folder_that_is_not_a_checkpoint_fails_clearly(tmp_path) -> None:
    with pytest.raises(AssetError, match="not a radiology checkpoint"):
        load_checkpoint(tmp_path)


def test_loading_weights_that_do_not_fit_the_config_fails_clearly(bundle, tmp_path) -> None:
    path = save_checkpoint(bundle, tmp_path / "ckpt")
    config = json.loads((path / "config.json").read_text())
    config["pooled_queries"] = 4
    (path / "config.json").write_text(json.dumps(config))
    with pytest.raises(AssetError, match="do not fit"):
        load_checkpoint(path)


def test_a_missing_weights_folder_is_a_config_error(tmp_path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        build_model(
            "tiny",
            cache_dir=tmp_path,
            report_texts=iu_report_texts,
            weights_dir=tmp_path / "absent",
        )


def test_local_pretrained_folders_are_loaded_and_recorded(tmp_path) -> None:
    weights = tmp_path / "weights"
    tokenizer = iu_tokenizer(tmp_path / "cache")
    config = CheXQueryConfig.tiny(vocab_size=len(tokenizer))
    torch.manual_seed(1)
    siglip = SiglipVisionModel(config.vision)
    siglip.save_pretrained(str(weights / "siglip"))
    t5 = T5ForConditionalGeneration(config.text)
    untie_lm_head(t5)  # Flan-T5 checkpoints carry their own LM head
    t5.save_pretrained(str(weights / "flan-t5"))
    tokenizer.save_pretrained(str(weights / "flan-t5"))
    write_tiny_bert(weights / "biobert")

    bundle = build_model(
        "tiny", cache_dir=tmp_path / "cache", report_texts=iu_report_texts, weights_dir=weights
    )

    card = bundle.card
    assert card.pretrained and card.query_init == "biobert" and card.tokenizer == "flan-t5"
    vision = bundle.model.vision.siglip
    q_proj = vision.encoder.layers[0].self_attn.q_proj
    assert torch.equal(q_proj.base_layer.weight, siglip.encoder.layers[0].self_attn.q_proj.weight)
    decoder = bundle.model.decoder.t5
    assert torch.equal(decoder.lm_head.weight, t5.lm_head.weight)
    assert torch.equal(decoder.shared.weight, t5.shared.weight)
