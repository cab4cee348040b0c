"""The T5-style report tokenizer trained on the real IU X-ray reports, and its cache."""

from __future__ import annotations

import pytest

from state.errors import AssetError
from tests.tools.radiology.model_support import iu_report_texts, iu_tokenizer
from tools.radiology.tokenizer import report_tokenizer

SENTENCE = (
    "Findings: The cardiomediastinal silhouette is within normal limits. No pneumothorax or "
    "large pleural effusion. | Impression: No acute cardiopulmonary abnormality."
)


def test_round_trips_a_report_sentence_exactly(tmp_path) -> None:
    tokenizer = iu_tokenizer(tmp_path)
    ids = tokenizer(SENTENCE)["input_ids"]
    assert tokenizer.decode(ids, skip_special_tokens=True) == SENTENCE
    assert tokenizer.unk_token_id not in ids
    assert len(ids) < len(SENTENCE.split()) * 2  # real subwords, not characters


def test_uses_t5_special_ids_and_appends_eos(tmp_path) -> None:
    tokenizer = iu_tokenizer(tmp_path)
    assert (tokenizer.pad_token_id, tokenizer.eos_token_id, tokenizer.unk_token_id) == (0, 1, 2)
    assert tokenizer("Heart size normal.")["input_ids"][-1] == 1
    assert 1000 <= len(tokenizer) <= 2000


def test_any_printable_ascii_text_avoids_unk(tmp_path) -> None:
    tokenizer = iu_tokenizer(tmp_path)
    text = "XR #3 [left] ~ 50% @ Q-tip; {ok}"
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    assert tokenizer.unk_token_id not in ids
    assert tokenizer.decode(ids) == text


def test_second_call_reuses_the_cached_tokenizer(tmp_path) -> None:
    first = iu_tokenizer(tmp_path)
    folders = list((tmp_path / "radiology" / "tokenizer").iterdir())
    assert len(folders) == 1 and (folders[0] / "tokenizer.json").is_file()
    stamp = (folders[0] / "tokenizer.json").stat().st_mtime_ns
    again = iu_tokenizer(tmp_path)
    assert again.get_vocab() == first.get_vocab()
    assert (folders[0] / "tokenizer.json").stat().st_mtime_ns == stamp


def test_other_texts_train_a_separate_tokenizer(tmp_path) -> None:
    iu_tokenizer(tmp_path)
    texts = iu_report_texts()[:500]
    report_tokenizer(tmp_path, lambda: texts, vocab_size=800)
    assert len(list((tmp_path / "radiology" / "tokenizer").iterdir())) == 2


def test_rejects_an_empty_corpus(tmp_path) -> None:
    with pytest.raises(AssetError, match="no report texts"):
        report_tokenizer(tmp_path, lambda: ["", "  "])
