"""int8 dynamic quantisation for CPU: per-channel int8 weights run by fbgemm's dynamic kernel.

Usage:
    quantize_linears(decoder)              # every nn.Linear becomes an Int8Linear, in place
    head = Int8Linear(embedding_weight)    # the 262,144-row LM head, int8
"""

from __future__ import annotations

import warnings

import torch
from torch import nn


def quantize_rows(weight: torch.Tensor) -> torch.Tensor:
    """A per-output-channel symmetric qint8 copy of a 2-D fp32 weight."""
    w = weight.detach().float()
    scales = (w.abs().amax(dim=1).clamp(min=1e-12) / 127.0).double()
    zero_points = torch.zeros(w.shape[0], dtype=torch.long)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*quantized tensor creation.*deprecated")
        return torch.quantize_per_channel(w, scales, zero_points, 0, torch.qint8)


class Int8Linear(nn.Module):
    """A bias-free linear layer with per-channel int8 weights; activations are quantised per call.

    `reduce_range=True` keeps AVX2's 16-bit accumulation from saturating (fbgemm's own default).
    """

    def __init__(self, weight: torch.Tensor) -> None:
        super().__init__()
        self.out_features, self.in_features = weight.shape
        self.packed = torch.ops.quantized.linear_prepack(quantize_rows(weight), None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.ops.quantized.linear_dynamic(x, self.packed, True)


def quantize_linears(module: nn.Module) -> None:
    """Replace every bias-free `nn.Linear` under `module` with an `Int8Linear`, in place."""
    for name, child in list(module.named_children()):
        if isinstance(child, nn.Linear) and child.bias is None:
            setattr(module, name, Int8Linear(child.weight))
        else:
            quantize_linears(child)
