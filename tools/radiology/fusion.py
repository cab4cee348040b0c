"""Gated fusion: a learned gate weighs the global CLS against the queries, pooled 20 → 10 (§4.5).

Usage:
    fusion = GatedFusion(width=768, heads=8, pooled=10, gate_hidden=192, dropout=0.1)
    out = fusion(cls, queries)        # [B, 768], [B, 20, 768]
    out.visual_tokens                 # [B, 11, 768]: gate·CLS, then 10 pooled queries
    out.gate                          # [B, 1], in (0, 1)
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class FusionOutput:
    """The decoder's visual tokens and the gate that made them."""

    visual_tokens: torch.Tensor  # [B, 1 + pooled, D]
    gate: torch.Tensor  # [B, 1]


class GatedFusion(nn.Module):
    """gate = σ(MLP([CLS; mean(queries)])); CLS·gate and (1 − gate)·queries, pooled by attention."""

    def __init__(
        self, width: int, heads: int, pooled: int, gate_hidden: int, dropout: float
    ) -> None:
        super().__init__()
        self.gate_mlp = nn.Sequential(
            nn.Linear(2 * width, gate_hidden), nn.GELU(), nn.Linear(gate_hidden, 1)
        )
        self.pool_queries = nn.Parameter(torch.empty(pooled, width))
        nn.init.xavier_uniform_(self.pool_queries)
        self.pool_attention = nn.MultiheadAttention(width, heads, dropout=dropout, batch_first=True)

    def forward(self, cls: torch.Tensor, queries: torch.Tensor) -> FusionOutput:
        """CLS [B, D] and attended queries [B, Q, D] to visual tokens [B, 1 + pooled, D]."""
        gate_input = torch.cat([cls, queries.mean(dim=1)], dim=-1)
        gate = torch.sigmoid(self.gate_mlp(gate_input))
        cls_gated = gate * cls
        weighted = (1.0 - gate).unsqueeze(-1) * queries
        pool = self.pool_queries.unsqueeze(0).expand(queries.shape[0], -1, -1)
        pooled, _ = self.pool_attention(pool, weighted, weighted, need_weights=False)
        visual_tokens = torch.cat([cls_gated.unsqueeze(1), pooled], dim=1)
        return FusionOutput(visual_tokens=visual_tokens, gate=gate)
