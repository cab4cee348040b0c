"""The 14 CheXpert-style conditions and 6 anatomical regions of CheXQuery-MedVLM (spec §4.2–4.3)."""

from __future__ import annotations

from typing import Literal

CONDITIONS: tuple[str, ...] = (
    "No Finding",
    "Enlarged Cardiomediastinum",
    "Cardiomegaly",
    "Lung Opacity",
    "Lung Lesion",
    "Edema",
    "Consolidation",
    "Pneumonia",
    "Atelectasis",
    "Pneumothorax",
    "Pleural Effusion",
    "Pleural Other",
    "Fracture",
    "Support Devices",
)

REGIONS: tuple[str, ...] = (
    "Cardiac",
    "Left Lung",
    "Right Lung",
    "Mediastinum",
    "Diaphragm",
    "Spine",
)

Mention = Literal["positive", "negative", "uncertain", "blank"]
MENTIONS: tuple[Mention, ...] = ("positive", "negative", "uncertain", "blank")
