"""Small real parts for the radiology model tests: IU report texts, tokenizer, a tiny BERT."""

from __future__ import annotations

import functools
from pathlib import Path

import torch
from transformers import BertConfig, BertModel, BertTokenizer, PreTrainedTokenizerBase

from app.settings import Settings
from tools.radiology.assets import ensure_radiology_data
from tools.radiology.conditions import CONDITIONS
from tools.radiology.report_text import report_target
from tools.radiology.reports import load_iu_reports
from tools.radiology.tokenizer import report_tokenizer


@functools.cache
def iu_report_texts() -> tuple[str, ...]:
    """The 3,955 real IU X-ray reports, cleaned and formatted as training targets."""
    files = ensure_radiology_data(Settings().cache_dir)
    return tuple(report_target(report) for report in load_iu_reports(files.reports_tgz))


def iu_tokenizer(cache_dir: Path) -> PreTrainedTokenizerBase:
    """The Unigram report tokenizer trained on the IU reports, cached under `cache_dir`."""
    return report_tokenizer(cache_dir, iu_report_texts)


def write_tiny_bert(path: Path) -> Path:
    """A small random BERT over the condition-name words, saved as a Hugging Face folder.

    It stands in for a local BioBERT download.
    """
    words = sorted({word for name in CONDITIONS for word in name.lower().split()})
    tokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *words]
    vocab = {token: i for i, token in enumerate(tokens)}
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=len(vocab),
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=64,
    )
    BertModel(config).save_pretrained(str(path))
    BertTokenizer(vocab=vocab).save_pretrained(str(path))
    return path
