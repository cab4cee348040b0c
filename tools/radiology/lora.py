"""Inject LoRA adapters (peft) into a module in place, and tell adapter weights from base weights.

Usage:
    inject_lora(siglip, VISION_LORA)                      # q_proj / v_proj everywhere
    inject_lora(t5, DECODER_LORA, scope=r"decoder\\.block\\.\\d+\\.layer\\.\\d+\\.\\w+")
    [name for name, _ in lora_parameters(t5)]
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from peft import LoraConfig, inject_adapter_in_model
from torch import nn

from tools.radiology.config import LoraSettings

_LORA_MARK = ".lora_"


def inject_lora(module: nn.Module, settings: LoraSettings, scope: str | None = None) -> nn.Module:
    """Add adapters to `settings.targets`; with `scope` (a regex), only to layers under it."""
    targets: str | list[str] = list(settings.targets)
    if scope is not None:
        names = "|".join(re.escape(target) for target in settings.targets)
        targets = rf"{scope}\.({names})"
    config = LoraConfig(
        r=settings.rank,
        lora_alpha=settings.alpha,
        lora_dropout=settings.dropout,
        target_modules=targets,
        bias="none",
    )
    return inject_adapter_in_model(config, module)


def is_lora_parameter(name: str) -> bool:
    """Whether a parameter name belongs to a LoRA adapter (`…lora_A…`, `…lora_B…`)."""
    return _LORA_MARK in name


def lora_parameters(module: nn.Module) -> Iterator[tuple[str, nn.Parameter]]:
    """The adapter parameters of `module`, by name."""
    return ((n, p) for n, p in module.named_parameters() if is_lora_parameter(n))
