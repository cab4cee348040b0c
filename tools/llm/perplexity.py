"""Perplexity of a text under the local LLM, scored as decoding would score each token.

Usage:
    ids = [llm.bos, *llm.encode_text(text)][:1024]
    print(perplexity(llm, ids), perplexity(llm, ids, rescore=True))
"""

from __future__ import annotations

import math

import torch

from tools.llm.engine import LocalLLM

FLOAT_CHUNK = 128


@torch.inference_mode()
def perplexity(llm: LocalLLM, ids: list[int], rescore: bool = False) -> float:
    """exp of the mean negative log-likelihood of `ids[1:]`, each given all tokens before it.

    An int8 engine is fed one token per step through the KV cache, exactly as in generation (its
    activations are quantised per call, so batching would change the numbers); a float engine,
    whose rows are independent, is fed `FLOAT_CHUNK` tokens per step. With `rescore`, the int8
    head's shortlist is rescored in fp32 first.
    """
    if len(ids) < 2:
        raise ValueError("perplexity needs at least two tokens")
    chunk = 1 if llm.head.int8 is not None else FLOAT_CHUNK
    cache = llm.decoder.new_cache(len(ids))
    total = 0.0
    for start in range(0, len(ids) - 1, chunk):
        inputs = ids[start : min(start + chunk, len(ids) - 1)]
        hidden = llm.decoder.forward(torch.tensor(inputs, device=llm.device), cache, start)
        if llm.head.int8 is None:
            logits = (hidden @ llm.head.weight.T).float()
        else:
            logits = llm.head.logits(hidden)[None]
            if rescore:
                logits = llm.head.rescored(hidden, logits[0])[None]
        targets = torch.tensor(ids[start + 1 : start + 1 + len(inputs)], device=logits.device)
        log_probs = torch.log_softmax(logits, dim=-1)
        total -= float(log_probs.gather(1, targets[:, None]).sum())
    return math.exp(total / (len(ids) - 1))
