"""int8 dynamic quantisation for CPU: per-channel int8 weights run by fbgemm's dynamic kernel.

Usage:
    weight = quantize_rows(linear.weight)     # per-channel qint8 copy of an fp32 weight
    layer = Int8Linear(weight)                # fbgemm-packed, activations quantised per call
    ints, scales = split_rows(weight)         # plain tensors to store; join_rows() rebuilds
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


def split_rows(weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The int8 values and fp64 per-row scales of a per-channel qint8 weight."""
    return weight.int_repr().contiguous(), weight.q_per_channel_scales().contiguous()


def join_rows(ints: torch.Tensor, scales: torch.Tensor) -> torch.Tensor:
    """The per-channel qint8 weight with these int8 values and per-row scales (inverse of split)."""
    zero_points = torch.zeros(ints.shape[0], dtype=torch.long)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*quantized tensor creation.*deprecated")
        return torch._make_per_channel_quantized_tensor(ints, scales.double(), zero_points, 0)


class Int8Linear(nn.Module):
    """A bias-free linear layer with per-channel int8 weights; activations are quantised per call.

    `reduce_range=True` keeps AVX2's 16-bit accumulation from saturating (fbgemm's own default).
    """

    def __init__(self, weight: torch.Tensor) -> None:
        super().__init__()
        self.out_features, self.in_features = weight.shape
        self.packed = torch.ops.quantized.linear_prepack(weight, None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.ops.quantized.linear_dynamic(x, self.packed, True)
