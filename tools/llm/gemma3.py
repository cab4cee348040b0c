"""The Gemma 3 text decoder in plain PyTorch, with a preallocated KV cache for fast decoding.

It computes the same function as transformers' `Gemma3ForCausalLM` (checked by the tests against
transformers' own forward), but fuses the q/k/v and gate/up projections and keeps the cache in
fixed tensors, so one decode step is a short, fixed sequence of kernels. Submodules are called
through `.forward` in the hot path: `nn.Module.__call__`'s hook dispatch costs more than these
small kernels on CPU.

Usage:
    model = Gemma3Decoder.from_checkpoint(weights_dir)
    cache = model.new_cache(max_tokens=512)
    hidden = model(torch.tensor([2, 818]), cache, start=0)   # last positions' hidden states
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import load_file
from torch import nn

from state.errors import AssetError


@dataclass(frozen=True)
class Gemma3Config:
    """The shape of a Gemma 3 text model, read from a transformers `config.json`."""

    vocab_size: int
    hidden_size: int
    intermediate_size: int
    num_layers: int
    num_heads: int
    num_kv_heads: int
    head_dim: int
    rms_norm_eps: float
    query_pre_attn_scalar: float
    sliding_window: int
    sliding: tuple[bool, ...]
    rope_theta_local: float
    rope_theta_global: float
    bos_token_id: int
    eos_token_id: int

    @classmethod
    def from_json(cls, path: Path) -> Gemma3Config:
        """Read the fields this decoder needs from a transformers `config.json`."""
        raw = json.loads(path.read_text(encoding="utf-8"))
        rope = raw["rope_parameters"]
        return cls(
            vocab_size=raw["vocab_size"],
            hidden_size=raw["hidden_size"],
            intermediate_size=raw["intermediate_size"],
            num_layers=raw["num_hidden_layers"],
            num_heads=raw["num_attention_heads"],
            num_kv_heads=raw["num_key_value_heads"],
            head_dim=raw["head_dim"],
            rms_norm_eps=raw["rms_norm_eps"],
            query_pre_attn_scalar=raw["query_pre_attn_scalar"],
            sliding_window=raw["sliding_window"],
            sliding=tuple(t == "sliding_attention" for t in raw["layer_types"]),
            rope_theta_local=rope["sliding_attention"]["rope_theta"],
            rope_theta_global=rope["full_attention"]["rope_theta"],
            bos_token_id=raw["bos_token_id"],
            eos_token_id=raw["eos_token_id"],
        )


class RMSNorm(nn.Module):
    """Gemma's RMSNorm: normalise in fp32, scale by (1 + weight)."""

    def __init__(self, dim: int, eps: float) -> None:
        super().__init__()
        self.eps = eps
        self.dim = (dim,)
        self.weight = nn.Parameter(torch.zeros(dim), requires_grad=False)
        self.scale: torch.Tensor | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.scale is None:
            self.scale = 1.0 + self.weight.float()
        return _rms(x, self.scale, self.eps)


class KVCache:
    """Preallocated keys and values for every layer: `[layers, positions, kv_heads, head_dim]`."""

    def __init__(
        self, config: Gemma3Config, max_positions: int, device: torch.device, dtype: torch.dtype
    ) -> None:
        shape = (config.num_layers, max_positions, config.num_kv_heads, config.head_dim)
        self.keys = torch.zeros(shape, device=device, dtype=dtype)
        self.values = torch.zeros(shape, device=device, dtype=dtype)
        self.max_positions = max_positions


class RotaryTables:
    """cos/sin tables for both RoPE bases (local and global layers), grown on demand."""

    def __init__(self, config: Gemma3Config) -> None:
        self.config = config
        self.length = 0
        self.tables: dict[bool, tuple[torch.Tensor, torch.Tensor]] = {}

    def get(
        self, sliding: bool, start: int, end: int, device: torch.device, dtype: torch.dtype
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """cos and signed sin for positions `[start, end)`, shaped `[positions, 1, head_dim]`.

        The sin table's first half is negated, so rotating is `x*cos + roll(x, half)*sin`.
        """
        if end > self.length:
            self._build(max(end, 2 * self.length, 1024), device, dtype)
        cos, sin = self.tables[sliding]
        return cos[start:end], sin[start:end]

    def _build(self, length: int, device: torch.device, dtype: torch.dtype) -> None:
        dim = self.config.head_dim
        positions = torch.arange(length, dtype=torch.float32, device=device)
        for sliding, theta in (
            (True, self.config.rope_theta_local),
            (False, self.config.rope_theta_global),
        ):
            inv_freq = 1.0 / (theta ** (torch.arange(0, dim, 2, dtype=torch.float32) / dim))
            freqs = positions[:, None] * inv_freq.to(device)[None, :]
            emb = torch.cat((freqs, freqs), dim=-1)
            sin = freqs.sin()
            self.tables[sliding] = (
                emb.cos().to(dtype)[:, None, :],
                torch.cat((-sin, sin), dim=-1).to(dtype)[:, None, :],
            )
        self.length = length


def _rms(x: torch.Tensor, scale: torch.Tensor, eps: float) -> torch.Tensor:
    h = x.float()
    h = h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + eps) * scale
    return h if x.dtype == torch.float32 else h.type_as(x)


class Attention(nn.Module):
    """Grouped-query attention with q/k norms, RoPE and an optional sliding window."""

    def __init__(self, config: Gemma3Config, layer: int) -> None:
        super().__init__()
        self.layer = layer
        self.sliding = config.sliding[layer]
        self.window = config.sliding_window
        self.heads = config.num_heads
        self.kv_heads = config.num_kv_heads
        self.head_dim = config.head_dim
        self.scale = config.query_pre_attn_scalar**-0.5
        self.q_size = config.num_heads * config.head_dim
        self.kv_size = config.num_kv_heads * config.head_dim
        self.qkv_proj = nn.Linear(config.hidden_size, self.q_size + 2 * self.kv_size, bias=False)
        self.o_proj = nn.Linear(self.q_size, config.hidden_size, bias=False)
        self.q_norm = RMSNorm(config.head_dim, config.rms_norm_eps)
        self.k_norm = RMSNorm(config.head_dim, config.rms_norm_eps)
        self.qk_scale: torch.Tensor | None = None

    def forward(
        self, x: torch.Tensor, cache: KVCache, start: int, rope: tuple[torch.Tensor, torch.Tensor]
    ) -> torch.Tensor:
        steps = x.shape[0]
        heads = self.heads + self.kv_heads
        qkv = self.qkv_proj.forward(x)
        qk = qkv[:, : self.q_size + self.kv_size].view(steps, heads, self.head_dim)
        v = qkv[:, self.q_size + self.kv_size :].view(steps, self.kv_heads, self.head_dim)
        qk = _rms(qk, self._qk_scale(), self.q_norm.eps)
        cos, sin = rope
        qk = qk * cos + qk.roll(self.head_dim // 2, dims=-1) * sin
        q, k = qk[:, : self.heads], qk[:, self.heads :]
        end = start + steps
        cache.keys[self.layer, start:end] = k
        cache.values[self.layer, start:end] = v
        first = max(0, start - self.window + 1) if self.sliding else 0
        if steps == 1:
            out = self._decode_step(
                q[0], cache.keys[self.layer, first:end], cache.values[self.layer, first:end]
            )
            return self.o_proj.forward(out.reshape(1, self.q_size))
        keys = cache.keys[self.layer, first:end].transpose(0, 1)
        values = cache.values[self.layer, first:end].transpose(0, 1)
        q_pos = torch.arange(start, end, device=x.device)[:, None]
        k_pos = torch.arange(first, end, device=x.device)[None, :]
        mask = k_pos <= q_pos
        if self.sliding:
            mask = mask & (k_pos > q_pos - self.window)
        out = F.scaled_dot_product_attention(
            q.transpose(0, 1), keys, values, attn_mask=mask, scale=1.0, enable_gqa=True
        )
        return self.o_proj.forward(out.transpose(0, 1).reshape(steps, self.q_size))

    def _qk_scale(self) -> torch.Tensor:
        """Per-head norm scales for q and k stacked, with the attention scale folded into q's."""
        if self.qk_scale is None:
            q = (1.0 + self.q_norm.weight.float()) * self.scale
            k = 1.0 + self.k_norm.weight.float()
            self.qk_scale = torch.stack([q] * self.heads + [k] * self.kv_heads)
        return self.qk_scale

    def _decode_step(
        self, q: torch.Tensor, keys: torch.Tensor, values: torch.Tensor
    ) -> torch.Tensor:
        """One query position: `q` is `[heads, dim]`, keys/values `[positions, kv_heads, dim]`."""
        group = self.heads // self.kv_heads
        q = q.view(self.kv_heads, group, self.head_dim)
        scores = torch.bmm(q, keys.permute(1, 2, 0)).softmax(dim=-1, dtype=torch.float32)
        return torch.bmm(scores.type_as(values), values.transpose(0, 1))


class MLP(nn.Module):
    """Gated feed-forward block with tanh-approximated GELU."""

    def __init__(self, config: Gemma3Config) -> None:
        super().__init__()
        self.intermediate = config.intermediate_size
        self.gate_up_proj = nn.Linear(config.hidden_size, 2 * config.intermediate_size, bias=False)
        self.down_proj = nn.Linear(config.intermediate_size, config.hidden_size, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gate, up = self.gate_up_proj.forward(x).split(self.intermediate, dim=-1)
        return self.down_proj.forward(F.gelu(gate, approximate="tanh") * up)


class DecoderLayer(nn.Module):
    """One Gemma 3 block: sandwich-normed attention, then sandwich-normed MLP."""

    def __init__(self, config: Gemma3Config, layer: int) -> None:
        super().__init__()
        self.self_attn = Attention(config, layer)
        self.mlp = MLP(config)
        eps = config.rms_norm_eps
        self.input_layernorm = RMSNorm(config.hidden_size, eps)
        self.post_attention_layernorm = RMSNorm(config.hidden_size, eps)
        self.pre_feedforward_layernorm = RMSNorm(config.hidden_size, eps)
        self.post_feedforward_layernorm = RMSNorm(config.hidden_size, eps)

    def forward(
        self, x: torch.Tensor, cache: KVCache, start: int, rope: tuple[torch.Tensor, torch.Tensor]
    ) -> torch.Tensor:
        h = self.self_attn.forward(self.input_layernorm.forward(x), cache, start, rope)
        x = x + self.post_attention_layernorm.forward(h)
        h = self.mlp.forward(self.pre_feedforward_layernorm.forward(x))
        return x + self.post_feedforward_layernorm.forward(h)


class Gemma3Decoder(nn.Module):
    """Token embedding, the decoder layers and the final norm; the LM head is the engine's job."""

    def __init__(self, config: Gemma3Config) -> None:
        super().__init__()
        self.config = config
        # An explicit `_weight` skips the random init, whose meta-device path imports torch._dynamo.
        self.embed_tokens = nn.Embedding(
            config.vocab_size,
            config.hidden_size,
            _weight=torch.empty(config.vocab_size, config.hidden_size),
        )
        self.embed_tokens.weight.requires_grad_(False)
        self.layers = nn.ModuleList(DecoderLayer(config, i) for i in range(config.num_layers))
        self.norm = RMSNorm(config.hidden_size, config.rms_norm_eps)
        self.embed_scale = math.sqrt(config.hidden_size)
        self.rope = RotaryTables(config)

    @classmethod
    def from_checkpoint(
        cls, weights_dir: Path, linears: Mapping[str, nn.Module] | None = None
    ) -> Gemma3Decoder:
        """Build the decoder on CPU in fp32 from a converted checkpoint (config + safetensors).

        `linears` replaces the named linear layers (e.g. `"layers.0.mlp.down_proj"`) with ready
        modules, such as int8 ones, so their fp32 weights are never read or fused. The remaining
        tensors are memory-mapped from the checkpoint, not copied.
        """
        try:
            config = Gemma3Config.from_json(weights_dir / "config.json")
            state = load_file(str(weights_dir / "model.safetensors"))
        except (OSError, KeyError, ValueError) as exc:
            raise AssetError(f"unreadable LLM checkpoint in {weights_dir}: {exc}") from exc
        with torch.device("meta"):
            model = cls(config)
        for name, module in (linears or {}).items():
            parent, _, child = name.rpartition(".")
            setattr(model.get_submodule(parent), child, module)
        wanted = set(model.state_dict())
        model.load_state_dict(_fuse(state, config, wanted), assign=True, strict=True)
        return model.eval()

    def new_cache(self, max_positions: int) -> KVCache:
        """A KV cache for up to `max_positions` tokens, on the model's device and dtype."""
        weight = self.layers[0].input_layernorm.weight
        return KVCache(self.config, max_positions, weight.device, self.cache_dtype)

    @property
    def cache_dtype(self) -> torch.dtype:
        """Activations' dtype: the embedding's dtype (fp32 on CPU, bf16/fp16 on GPU)."""
        return self.embed_tokens.weight.dtype

    def forward(self, tokens: torch.Tensor, cache: KVCache, start: int) -> torch.Tensor:
        """Run `tokens` (1-D) at positions `start...`; return the final-normed hidden states."""
        x = self.embed_tokens(tokens) * torch.tensor(self.embed_scale, dtype=self.cache_dtype)
        end = start + tokens.shape[0]
        ropes = {
            sliding: self.rope.get(sliding, start, end, x.device, self.cache_dtype)
            for sliding in (True, False)
        }
        for layer in self.layers:
            x = layer.forward(x, cache, start, ropes[layer.self_attn.sliding])
        return self.norm.forward(x)


def _fuse(
    state: dict[str, torch.Tensor], config: Gemma3Config, wanted: set[str]
) -> dict[str, torch.Tensor]:
    """Rename transformers' keys to this decoder's and concatenate q/k/v and gate/up weights.

    Only keys in `wanted` are produced, so replaced layers cost no concatenation.
    """
    fused: dict[str, torch.Tensor] = {}
    for name, tensor in state.items():
        key = name.removeprefix("model.")
        if key.endswith(
            (
                "q_proj.weight",
                "k_proj.weight",
                "v_proj.weight",
                "gate_proj.weight",
                "up_proj.weight",
            )
        ):
            continue
        if key in wanted:
            fused[key] = tensor
    for i in range(config.num_layers):
        p = f"model.layers.{i}."
        qkv = f"layers.{i}.self_attn.qkv_proj.weight"
        if qkv in wanted:
            fused[qkv] = torch.cat([state[p + f"self_attn.{n}_proj.weight"] for n in "qkv"], dim=0)
        gate_up = f"layers.{i}.mlp.gate_up_proj.weight"
        if gate_up in wanted:
            fused[gate_up] = torch.cat(
                [state[p + "mlp.gate_proj.weight"], state[p + "mlp.up_proj.weight"]], dim=0
            )
    return fused
