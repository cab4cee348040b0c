"""The report tokenizer: Flan-T5's own when a local copy exists, else a T5-style one trained on IU.

Usage:
    tokenizer = flan_t5_tokenizer(weights_dir / "flan-t5")            # a local Flan-T5 folder
    tokenizer = report_tokenizer(cache_dir, lambda: report_texts)     # trained once, then cached
    ids = tokenizer("Findings: Heart size is normal. | Impression: Normal.").input_ids

Flan-T5's SentencePiece model is not available offline. The fallback is a Unigram model (as
T5's is) trained on the cleaned IU X-ray reports, with T5's special ids (pad 0, </s> 1,
<unk> 2), a Metaspace pre-tokenizer, `</s>` appended to every encoded text, and every printable
ASCII character in its alphabet so that no plain-ASCII text decodes to `<unk>`.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import string
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path

from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
from tokenizers.trainers import UnigramTrainer
from transformers import AutoTokenizer, PreTrainedTokenizerBase, PreTrainedTokenizerFast

from state.errors import AssetError, ConfigError

PAD, EOS, UNK = "<pad>", "</s>", "<unk>"
SPECIAL_TOKENS = (PAD, EOS, UNK)  # ids 0, 1, 2 as in T5
DEFAULT_VOCAB_SIZE = 2000
_FORMAT_VERSION = "1"


def flan_t5_tokenizer(path: Path) -> PreTrainedTokenizerBase:
    """The tokenizer saved with a local Flan-T5 checkpoint (no download)."""
    if not path.is_dir():
        raise AssetError(f"no Flan-T5 folder at {path}")
    return AutoTokenizer.from_pretrained(str(path), local_files_only=True)


def train_report_tokenizer(texts: Iterable[str], vocab_size: int) -> PreTrainedTokenizerFast:
    """Train a T5-compatible Unigram tokenizer on report texts."""
    if vocab_size < len(SPECIAL_TOKENS) + len(string.printable):
        raise ConfigError(f"vocab_size {vocab_size} is too small for the base alphabet")
    tokenizer = Tokenizer(models.Unigram())
    tokenizer.normalizer = normalizers.NFKC()
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    tokenizer.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    trainer = UnigramTrainer(
        vocab_size=vocab_size,
        special_tokens=list(SPECIAL_TOKENS),
        unk_token=UNK,
        initial_alphabet=sorted(set(string.printable) - set(string.whitespace)),
        show_progress=False,
    )
    tokenizer.train_from_iterator(texts, trainer)
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"$A {EOS}", special_tokens=[(EOS, tokenizer.token_to_id(EOS))]
    )
    ids = [tokenizer.token_to_id(token) for token in SPECIAL_TOKENS]
    if ids != [0, 1, 2]:
        raise AssetError(f"special token ids came out as {ids}, not T5's [0, 1, 2]")
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, pad_token=PAD, eos_token=EOS, unk_token=UNK
    )


def _corpus_key(texts: list[str], vocab_size: int) -> str:
    digest = hashlib.sha256(f"{_FORMAT_VERSION}|{vocab_size}".encode())
    for text in texts:
        digest.update(text.encode("utf-8"))
        digest.update(b"\0")
    return digest.hexdigest()[:16]


def report_tokenizer(
    cache_dir: Path,
    texts: Callable[[], Iterable[str]],
    vocab_size: int = DEFAULT_VOCAB_SIZE,
) -> PreTrainedTokenizerBase:
    """The Unigram report tokenizer for these texts, trained on first use and cached.

    The cache key is a hash of the texts and the vocabulary size, so a change in the text
    cleaning trains a new tokenizer instead of reusing a stale one.
    """
    corpus = [text for text in texts() if text.strip()]
    if not corpus:
        raise AssetError("no report texts to train the report tokenizer on")
    target = cache_dir / "radiology" / "tokenizer" / f"iu-unigram-{_corpus_key(corpus, vocab_size)}"
    if (target / "tokenizer.json").is_file():
        return load_tokenizer(target)
    tokenizer = train_report_tokenizer(corpus, vocab_size)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=".partial-"))
    try:
        tokenizer.save_pretrained(str(staging))
        os.replace(staging, target)
    except OSError:
        shutil.rmtree(staging, ignore_errors=True)
        if not (target / "tokenizer.json").is_file():  # not a concurrent writer winning the race
            raise
    return tokenizer


def load_tokenizer(path: Path) -> PreTrainedTokenizerBase:
    """A tokenizer saved with `save_pretrained` (a cached or checkpointed one)."""
    if not (path / "tokenizer.json").is_file() and not (path / "spiece.model").is_file():
        raise AssetError(f"no tokenizer under {path}")
    return AutoTokenizer.from_pretrained(str(path), local_files_only=True)
