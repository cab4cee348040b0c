"""Prompt-guided beam search of the tiny model, with the IU report tokenizer (spec §4.6)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import torch

from state.errors import ConfigError, InputError
from tests.tools.radiology.model_support import iu_tokenizer
from tools.radiology.config import DEFAULT_PROMPT, CheXQueryConfig
from tools.radiology.decoder import GenerationSettings
from tools.radiology.losses import IGNORE_INDEX
from tools.radiology.model import CheXQueryMedVLM
from tools.radiology.prompting import ReportPrompter

REPORTS = [
    "Findings: The heart is normal in size. The lungs are clear. | Impression: Normal chest.",
    "Findings: Small left pleural effusion. | Impression: Left effusion.",
]


@pytest.fixture(scope="module")
def setup(tmp_path_factory) -> tuple[CheXQueryMedVLM, ReportPrompter]:
    tokenizer = iu_tokenizer(tmp_path_factory.mktemp("cache"))
    torch.manual_seed(0)
    model = CheXQueryMedVLM(CheXQueryConfig.tiny(vocab_size=len(tokenizer))).eval()
    return model, ReportPrompter(tokenizer, model.config.prompt)


@contextmanager
def _logit_bias(model: CheXQueryMedVLM, token_id: int, bias: float) -> Iterator[None]:
    """Add `bias` to one token's logit at every decoding step."""

    def hook(_module: torch.nn.Module, _inputs: object, output: torch.Tensor) -> torch.Tensor:
        output = output.clone()
        output[..., token_id] += bias
        return output

    handle = model.decoder.t5.lm_head.register_forward_hook(hook)
    try:
        yield
    finally:
        handle.remove()


def _images(model: CheXQueryMedVLM, size: int) -> torch.Tensor:
    side = model.config.image_size
    return torch.rand(size, 3, side, side, generator=torch.Generator().manual_seed(3)) * 2 - 1


def test_generation_continues_from_the_prompt_prefix(setup) -> None:
    model, prompter = setup
    images = _images(model, 2)
    prefix = prompter.prefix(2)
    greedy = GenerationSettings(num_beams=1, min_new_tokens=0, max_new_tokens=4)
    result = model.generate(images, prefix, greedy)
    with torch.no_grad():
        out = model(images, decoder_input_ids=prefix)
    assert out.logits is not None
    assert torch.equal(result.token_ids[:, 0], out.logits[:, -1].argmax(dim=-1))


def test_generation_respects_the_minimum_length(setup) -> None:
    model, prompter = setup
    settings = GenerationSettings(num_beams=2, min_new_tokens=6, max_new_tokens=12)
    with _logit_bias(model, prompter.eos_id, 50.0):  # the model wants to stop at once
        ids = model.generate(_images(model, 2), prompter.prefix(2), settings).token_ids
    for row in ids.tolist():
        assert prompter.eos_id not in row[:6]
        assert row[6] == prompter.eos_id


def test_generation_respects_the_maximum_length(setup) -> None:
    model, prompter = setup
    settings = GenerationSettings(num_beams=2, min_new_tokens=0, max_new_tokens=9)
    with _logit_bias(model, prompter.eos_id, -50.0):  # the model never wants to stop
        ids = model.generate(_images(model, 2), prompter.prefix(2), settings).token_ids
    assert ids.shape == (2, 9)
    assert prompter.eos_id not in ids.flatten().tolist()


def test_generation_never_repeats_a_trigram(setup) -> None:
    model, prompter = setup
    favourite = prompter.tokenizer.convert_tokens_to_ids("▁the")
    settings = GenerationSettings(num_beams=2, min_new_tokens=10, max_new_tokens=10)
    with _logit_bias(model, favourite, 30.0):  # left alone it would say "the the the …"
        ids = model.generate(_images(model, 1), prompter.prefix(1), settings).token_ids
    sequence = prompter.prompt_ids + ids[0].tolist()
    trigrams = [tuple(sequence[i : i + 3]) for i in range(len(sequence) - 2)]
    assert len(trigrams) == len(set(trigrams))
    assert ids[0].tolist().count(favourite) >= 3  # the bias was strong; blocking did the work


def test_generated_ids_decode_to_text(setup) -> None:
    model, prompter = setup
    settings = GenerationSettings(min_new_tokens=3, max_new_tokens=8)
    texts = prompter.decode(
        model.generate(_images(model, 2), prompter.prefix(2), settings).token_ids
    )
    assert len(texts) == 2
    assert all(isinstance(text, str) and text for text in texts)


def test_training_batch_learns_the_report_and_eos_but_not_the_prompt(setup) -> None:
    _, prompter = setup
    batch = prompter.training_batch(REPORTS)
    prompt_length = len(prompter.prompt_ids)
    for row, report in enumerate(REPORTS):
        report_ids = prompter.tokenizer(report, add_special_tokens=False)["input_ids"]
        inputs = batch.decoder_input_ids[row].tolist()
        labels = batch.labels[row].tolist()
        assert inputs[:prompt_length] == prompter.prompt_ids
        learned = [label for label in labels if label != IGNORE_INDEX]
        assert learned == [*report_ids, prompter.eos_id]
        assert labels[: prompt_length - 1] == [IGNORE_INDEX] * (prompt_length - 1)
        assert inputs[prompt_length : prompt_length + len(report_ids) - 1] == report_ids[:-1]
    assert batch.decoder_input_ids.shape == batch.labels.shape


def test_training_batch_cuts_long_reports(setup) -> None:
    _, prompter = setup
    short = ReportPrompter(prompter.tokenizer, DEFAULT_PROMPT, max_target_tokens=5)
    labels = short.training_batch([REPORTS[0]]).labels[0].tolist()
    learned = [label for label in labels if label != IGNORE_INDEX]
    assert len(learned) == 5
    assert learned[-1] == short.eos_id


def test_prompt_shares_no_trigram_with_the_report_skeleton(setup) -> None:
    _, prompter = setup
    skeleton = prompter.tokenizer(
        "Findings: The heart is normal. | Impression: Normal chest.", add_special_tokens=False
    )["input_ids"]

    def trigrams(ids: list[int]) -> set[tuple[int, ...]]:
        return {tuple(ids[i : i + 3]) for i in range(len(ids) - 2)}

    assert not trigrams(prompter.prompt_ids) & trigrams(skeleton)


def test_prefix_must_start_with_the_decoder_start_token(setup) -> None:
    model, prompter = setup
    bad = prompter.prefix(1)[:, 1:]
    with pytest.raises(InputError, match="start token"):
        model.generate(
            _images(model, 1), bad, GenerationSettings(min_new_tokens=0, max_new_tokens=4)
        )


def test_generation_settings_reject_minimum_above_maximum() -> None:
    with pytest.raises(ConfigError, match="min_new_tokens"):
        GenerationSettings(min_new_tokens=30, max_new_tokens=20)


def test_default_generation_settings_follow_the_spec() -> None:
    settings = GenerationSettings()
    assert (settings.num_beams, settings.no_repeat_ngram_size) == (4, 3)
    assert (settings.length_penalty, settings.early_stopping) == (1.0, True)
    assert (settings.min_new_tokens, settings.max_new_tokens) == (20, 512)
