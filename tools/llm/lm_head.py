"""The tied LM head: next-token scores over the 262,144-token vocabulary, and the greedy pick.

On CPU the head is int8 (the biggest single cost of a decode step). Greedy picks stay those of the
fp32 head: the int8 scores only shortlist the `rerank` best tokens (those within a margin of the
best), which are then rescored exactly in fp32 (a 640 x `rerank` product) before the argmax.
"""

from __future__ import annotations

import torch

from tools.llm.int8 import Int8Linear

RERANK_MARGIN = 2.0


class LMHead:
    """Scores hidden states against the token embedding matrix (tied weights)."""

    def __init__(self, weight: torch.Tensor, int8: Int8Linear | None, rerank: int = 8) -> None:
        self.weight = weight
        self.int8 = int8
        self.rerank = rerank

    def logits(self, hidden: torch.Tensor) -> torch.Tensor:
        """fp32 scores for every token, shape `[vocab]`, from one hidden state `[1, hidden]`."""
        if self.int8 is not None:
            return self.int8.forward(hidden.float())[0]
        return (hidden @ self.weight.T)[0].float()

    def greedy(self, hidden: torch.Tensor, logits: torch.Tensor) -> int:
        """The argmax token; with an int8 head, the fp32 argmax among the int8 shortlist.

        Only shortlisted tokens within `RERANK_MARGIN` of the int8 best are rescored, so a grammar's
        `-inf` masks and closing-mode boosts in `logits` keep their effect.
        """
        if self.int8 is None or self.rerank <= 1:
            return int(logits.argmax())
        values, candidates = logits.topk(self.rerank)
        candidates = candidates[values >= values[0] - RERANK_MARGIN]
        if candidates.numel() <= 1:
            return int(logits.argmax())
        exact = self.weight[candidates].float() @ hidden[0].float()
        return int(candidates[exact.argmax()])

    def rescored(self, hidden: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
        """A copy of int8 `logits` whose `rerank` best entries are replaced by exact fp32 scores."""
        if self.int8 is None or self.rerank < 1:
            return logits
        candidates = logits.topk(self.rerank).indices
        exact = logits.clone()
        exact[candidates] = self.weight[candidates].float() @ hidden[0].float()
        return exact
