"""Build CheXQuery-MedVLM from local pretrained weights or from configs, and save/load checkpoints.

Usage:
    bundle = build_model("full", cache_dir=cache, report_texts=texts, weights_dir=Path("/w"))
    bundle.card.pretrained                # True only when SigLIP and Flan-T5 both loaded
    save_checkpoint(bundle, Path("ckpt/phase1"))
    again = load_checkpoint(Path("ckpt/phase1"), device="cuda")

A weights folder holds Hugging Face folders named `siglip`, `flan-t5` and `biobert`; each is
used when present (loaded with `local_files_only=True`), and whatever is missing is built
from the config with random initialisation. The model card records which, so every output
can say whether the model is pretrained, and (set by training) whether it was phantom-trained.

A checkpoint is a folder: `model.safetensors` (all weights, LoRA included), `config.json`,
`card.json` and `tokenizer/`. It is written to a staging folder and renamed into place.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import torch
from safetensors.torch import load_model, save_model
from transformers import PreTrainedTokenizerBase, SiglipVisionModel, T5ForConditionalGeneration

from state.errors import AssetError, ConfigError
from tools.models.embedder import MiniLMEmbedder
from tools.radiology.config import CheXQueryConfig
from tools.radiology.decoder import ReportDecoder
from tools.radiology.model import CheXQueryMedVLM
from tools.radiology.prompting import ReportPrompter
from tools.radiology.queries import BioBertEmbedder, TextEmbedder, condition_name_vectors
from tools.radiology.tokenizer import flan_t5_tokenizer, load_tokenizer, report_tokenizer
from tools.radiology.vision_encoder import VisionEncoder

VISION_FOLDER, DECODER_FOLDER, BIOBERT_FOLDER = "siglip", "flan-t5", "biobert"
WEIGHTS_FILE, CONFIG_FILE, CARD_FILE, TOKENIZER_FOLDER = (
    "model.safetensors",
    "config.json",
    "card.json",
    "tokenizer",
)


@dataclass(frozen=True)
class ModelCard:
    """Where the weights came from and how the model was trained."""

    model_id: str
    config_name: str
    pretrained_vision: bool
    pretrained_decoder: bool
    query_init: Literal["biobert", "minilm"]
    tokenizer: Literal["flan-t5", "iu-unigram"]
    phantom_trained: bool = False
    trained_phases: tuple[int, ...] = ()

    @property
    def pretrained(self) -> bool:
        """Both backbones started from published pretrained weights."""
        return self.pretrained_vision and self.pretrained_decoder

    def with_training(self, phase: int, *, phantom: bool) -> ModelCard:
        """The card after training one more phase (on phantoms or on real images)."""
        return replace(
            self,
            phantom_trained=self.phantom_trained or phantom,
            trained_phases=(*self.trained_phases, phase),
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict, with the derived `pretrained` flag."""
        return {
            **asdict(self),
            "trained_phases": list(self.trained_phases),
            "pretrained": self.pretrained,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelCard:
        """Rebuild a card written by `to_dict`."""
        values = {key: value for key, value in data.items() if key != "pretrained"}
        try:
            return cls(**{**values, "trained_phases": tuple(values.get("trained_phases", ()))})
        except TypeError as exc:
            raise AssetError(f"not a radiology model card: {exc}") from exc


@dataclass
class RadiologyModel:
    """A model with the tokenizer and card that belong to it."""

    model: CheXQueryMedVLM
    tokenizer: PreTrainedTokenizerBase
    card: ModelCard
    prompter: ReportPrompter = field(init=False)

    def __post_init__(self) -> None:
        config = self.model.config
        self.prompter = ReportPrompter(
            self.tokenizer,
            config.prompt,
            config.max_target_tokens,
            start_token_id=self.model.decoder.start_token_id,
        )


@dataclass(frozen=True)
class PretrainedFolders:
    """The pretrained parts found in a weights folder (None where absent)."""

    vision: Path | None = None
    decoder: Path | None = None
    biobert: Path | None = None

    @classmethod
    def find(cls, weights_dir: Path | None) -> PretrainedFolders:
        """Look for `siglip`, `flan-t5` and `biobert` under `weights_dir`."""
        if weights_dir is None:
            return cls()
        if not weights_dir.is_dir():
            raise ConfigError(f"the radiology weights folder {weights_dir} does not exist")
        found: dict[str, Path | None] = {}
        for key, name in (
            ("vision", VISION_FOLDER),
            ("decoder", DECODER_FOLDER),
            ("biobert", BIOBERT_FOLDER),
        ):
            folder = weights_dir / name
            if folder.exists() and not (folder / "config.json").is_file():
                raise AssetError(f"{folder} is not a Hugging Face model folder (no config.json)")
            found[key] = folder if folder.exists() else None
        return cls(**found)


def build_model(
    preset: str,
    *,
    cache_dir: Path,
    report_texts: Callable[[], Iterable[str]],
    weights_dir: Path | None = None,
    embedder: TextEmbedder | None = None,
    model_id: str | None = None,
) -> RadiologyModel:
    """A new model: pretrained parts from `weights_dir` where present, random init elsewhere.

    `report_texts` (cleaned IU reports) train the fallback tokenizer when there is no local
    Flan-T5. The condition queries start from BioBERT when present, else from `embedder`
    (the offline MiniLM reference embedder when None). Pretrained parts bring their own sizes.
    """
    folders = PretrainedFolders.find(weights_dir)
    if folders.decoder is not None:
        tokenizer = flan_t5_tokenizer(folders.decoder)
    else:
        tokenizer = report_tokenizer(cache_dir, report_texts)
    config = CheXQueryConfig.preset(preset, vocab_size=len(tokenizer))
    siglip = t5 = None
    if folders.vision is not None:
        siglip = SiglipVisionModel.from_pretrained(str(folders.vision), local_files_only=True)
        config = config.with_parts(vision=siglip.config)
    if folders.decoder is not None:
        t5 = T5ForConditionalGeneration.from_pretrained(str(folders.decoder), local_files_only=True)
        config = config.with_parts(text=t5.config)
    model = CheXQueryMedVLM(
        config,
        vision=VisionEncoder(siglip, config) if siglip is not None else None,
        decoder=ReportDecoder(t5, config) if t5 is not None else None,
    )
    if folders.biobert is not None:
        name_embedder: TextEmbedder = BioBertEmbedder(folders.biobert)
    else:
        name_embedder = embedder or MiniLMEmbedder.load("cpu", quantize=False, trace=False)
    model.condition_queries.init_from_text(
        condition_name_vectors(name_embedder), seed=config.query_init_seed
    )
    card = ModelCard(
        model_id=model_id or f"chexquery-medvlm-{config.name}",
        config_name=config.name,
        pretrained_vision=siglip is not None,
        pretrained_decoder=t5 is not None,
        query_init="biobert" if folders.biobert is not None else "minilm",
        tokenizer="flan-t5" if folders.decoder is not None else "iu-unigram",
    )
    return RadiologyModel(model=model, tokenizer=tokenizer, card=card)


def save_checkpoint(bundle: RadiologyModel, path: Path) -> Path:
    """Write weights, config, card and tokenizer to folder `path`, replacing it atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}-"))
    try:
        save_model(bundle.model, str(staging / WEIGHTS_FILE))
        (staging / CONFIG_FILE).write_text(json.dumps(bundle.model.config.to_dict(), indent=2))
        (staging / CARD_FILE).write_text(json.dumps(bundle.card.to_dict(), indent=2))
        bundle.tokenizer.save_pretrained(str(staging / TOKENIZER_FOLDER))
        retired = None
        if path.exists():
            retired = path.with_name(f".{path.name}-old-{os.getpid()}")
            os.replace(path, retired)
        os.replace(staging, path)
        if retired is not None:
            shutil.rmtree(retired, ignore_errors=True)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return path


def load_checkpoint(path: Path, device: torch.device | str = "cpu") -> RadiologyModel:
    """A model saved by `save_checkpoint`, exactly as it was, in eval mode on `device`."""
    missing = [n for n in (WEIGHTS_FILE, CONFIG_FILE, CARD_FILE) if not (path / n).is_file()]
    if missing:
        raise AssetError(f"{path} is not a radiology checkpoint (missing {', '.join(missing)})")
    try:
        config = CheXQueryConfig.from_dict(json.loads((path / CONFIG_FILE).read_text()))
        card = ModelCard.from_dict(json.loads((path / CARD_FILE).read_text()))
    except json.JSONDecodeError as exc:
        raise AssetError(f"{path}: unreadable checkpoint metadata ({exc})") from exc
    model = CheXQueryMedVLM(config)
    try:
        load_model(model, str(path / WEIGHTS_FILE), strict=True)
    except (RuntimeError, OSError) as exc:
        raise AssetError(f"{path}: the weights do not fit the saved config ({exc})") from exc
    tokenizer = load_tokenizer(path / TOKENIZER_FOLDER)
    return RadiologyModel(model=model.to(device).eval(), tokenizer=tokenizer, card=card)
