"""Queries attend to SigLIP patch tokens: 2 layers of attention, LayerNorm and FFN (spec §4.4).

Usage:
    module = QueryCrossAttention(width=768, heads=8, layers=2, ffn_multiplier=4, dropout=0.1)
    out = module(queries, patches)     # [B, 20, 768], [B, 576, 768]
    out.queries                        # attended queries [B, 20, 768]
    out.attentions                     # per layer, head-averaged [B, 2, 20, 576]; rows sum to 1
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class CrossAttentionOutput:
    """Attended queries and each layer's attention weights over the patches."""

    queries: torch.Tensor  # [B, Q, D]
    attentions: torch.Tensor  # [B, layers, Q, N]


class CrossAttentionLayer(nn.Module):
    """MultiheadAttention → LayerNorm → FFN (D → 4D → D) → LayerNorm, with residuals."""

    def __init__(self, width: int, heads: int, ffn_multiplier: int, dropout: float) -> None:
        super().__init__()
        self.attention = nn.MultiheadAttention(width, heads, dropout=dropout, batch_first=True)
        self.attention_norm = nn.LayerNorm(width)
        self.ffn = nn.Sequential(
            nn.Linear(width, width * ffn_multiplier),
            nn.GELU(),
            nn.Dropout(dropout),
            nn.Linear(width * ffn_multiplier, width),
        )
        self.ffn_norm = nn.LayerNorm(width)
        self.dropout = nn.Dropout(dropout)

    def forward(
        self, queries: torch.Tensor, patches: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Queries [B, Q, D] over patches [B, N, D]; returns queries and weights [B, Q, N]."""
        attended, weights = self.attention(
            queries, patches, patches, need_weights=True, average_attn_weights=True
        )
        queries = self.attention_norm(queries + self.dropout(attended))
        queries = self.ffn_norm(queries + self.dropout(self.ffn(queries)))
        return queries, weights


class QueryCrossAttention(nn.Module):
    """A stack of cross-attention layers; queries are Q, patch tokens are K and V."""

    def __init__(
        self, width: int, heads: int, layers: int, ffn_multiplier: int, dropout: float
    ) -> None:
        super().__init__()
        self.layers = nn.ModuleList(
            CrossAttentionLayer(width, heads, ffn_multiplier, dropout) for _ in range(layers)
        )

    def forward(self, queries: torch.Tensor, patches: torch.Tensor) -> CrossAttentionOutput:
        """Attend every layer; keep each layer's head-averaged attention weights."""
        weights = []
        for layer in self.layers:
            queries, layer_weights = layer(queries, patches)
            weights.append(layer_weights)
        return CrossAttentionOutput(queries=queries, attentions=torch.stack(weights, dim=1))
