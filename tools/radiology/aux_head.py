"""The auxiliary classifier: each condition query → Linear → GELU → Dropout → logit (spec §4.7).

Usage:
    head = AuxiliaryHead(width=768, dropout=0.2)
    logits = head(condition_queries)      # [B, 14, 768] → [B, 14]
"""

from __future__ import annotations

import torch
from torch import nn


class AuxiliaryHead(nn.Module):
    """One MLP shared by the condition queries (768 → 384 → 1): a logit per condition."""

    def __init__(self, width: int, dropout: float) -> None:
        super().__init__()
        self.mlp = nn.Sequential(
            nn.Linear(width, width // 2),
            nn.GELU(),
            nn.Dropout(dropout),
            nn.Linear(width // 2, 1),
        )

    def forward(self, condition_queries: torch.Tensor) -> torch.Tensor:
        """Attended condition queries [B, C, D] to logits [B, C]."""
        return self.mlp(condition_queries).squeeze(-1)
