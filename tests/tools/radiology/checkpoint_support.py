"""A tiny CheXQuery checkpoint with random weights, for inference, agent and CLI plumbing tests.

The weights are untrained, so the text is arbitrary; the tests check plumbing and shapes only.
"""

from __future__ import annotations

from pathlib import Path

import torch

from app.settings import Settings
from tests.tools.radiology.model_support import iu_tokenizer
from tools.radiology.config import CheXQueryConfig
from tools.radiology.decoder import GenerationSettings
from tools.radiology.model import CheXQueryMedVLM
from tools.radiology.weights import ModelCard, RadiologyModel, save_checkpoint

TEST_MODEL_ID = "chexquery-medvlm-tiny-test"
FAST_DECODING = GenerationSettings(num_beams=4, min_new_tokens=20, max_new_tokens=24)


def write_tiny_checkpoint(path: Path, *, phantom_trained: bool = True, seed: int = 0) -> Path:
    """Save a random-init tiny model with the real IU report tokenizer at `path`."""
    tokenizer = iu_tokenizer(Settings().cache_dir)
    torch.manual_seed(seed)
    model = CheXQueryMedVLM(CheXQueryConfig.tiny(vocab_size=len(tokenizer))).eval()
    card = ModelCard(
        model_id=TEST_MODEL_ID,
        config_name="tiny",
        pretrained_vision=False,
        pretrained_decoder=False,
        query_init="minilm",
        tokenizer="iu-unigram",
        phantom_trained=phantom_trained,
        trained_phases=(1,) if phantom_trained else (),
    )
    return save_checkpoint(RadiologyModel(model=model, tokenizer=tokenizer, card=card), path)
