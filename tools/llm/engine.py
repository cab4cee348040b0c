"""LocalLLM: the embedded Gemma 3 270M chat engine (prompt format, decode loop, streaming, JSON).

Usage:
    llm = load_local_llm(registry, cache_dir, quantize=True, threads=0)
    result = llm.generate([ChatMessage("user", "Name a bone.")], max_tokens=32)
    for delta in llm.stream([ChatMessage("user", "Hi")], max_tokens=16):
        print(delta, end="")
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import torch
from rich.console import Console
from tokenizers import Tokenizer

from state.errors import AssetError, InputError, ModelEndpointError
from tools.llm.gemma3 import Gemma3Decoder, KVCache
from tools.llm.gguf_weights import MODEL_DIR_NAME, ensure_weights
from tools.llm.int8 import Int8Linear
from tools.llm.int8_cache import HEAD, int8_weights
from tools.llm.lm_head import LMHead
from tools.models.registry import ModelRegistry, preferred_dtype

if TYPE_CHECKING:
    from tools.llm.json_constraint import JsonConstraint, JsonGrammars

Role = Literal["system", "user", "assistant"]
FinishReason = Literal["stop", "length"]
MAX_CONTEXT = 8192
JSON_CLOSING_RESERVE = 24
JSON_OVERRUN = 192


@dataclass(frozen=True)
class ChatMessage:
    """One chat turn. System messages are folded into the first user turn (Gemma has no system)."""

    role: Role
    content: str


@dataclass(frozen=True)
class Generation:
    """A finished completion and its token counts."""

    text: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: FinishReason


@dataclass(frozen=True)
class DecodeOptions:
    """How to decode one request."""

    max_tokens: int = 256
    temperature: float = 0.0
    stop: tuple[str, ...] = ()
    json_schema: dict[str, Any] | None = None
    json_object: bool = False
    seed: int | None = None


class LocalLLM:
    """The local chat model. Thread-safe: requests are served one at a time under a lock."""

    def __init__(
        self,
        decoder: Gemma3Decoder,
        head: LMHead,
        tokenizer: Tokenizer,
        device: torch.device,
    ) -> None:
        self.decoder = decoder
        self.head = head
        self.tokenizer = tokenizer
        self.device = device
        self.model_name = MODEL_DIR_NAME
        self.start_turn = self._special_id("<start_of_turn>")
        self.end_turn = self._special_id("<end_of_turn>")
        self.bos = decoder.config.bos_token_id
        self.stop_ids = frozenset({decoder.config.eos_token_id, self.end_turn, self.start_turn})
        self._grammars: JsonGrammars | None = None
        self._lock = threading.Lock()

    @classmethod
    def load(
        cls, weights_dir: Path, device: torch.device, quantize: bool, rerank: int = 8
    ) -> LocalLLM:
        """Load converted weights onto `device`: bf16/fp16 on GPU; fp32 or int8 on CPU.

        int8 weights come from the on-disk cache (see `int8_cache`); the LM head's fbgemm packing,
        the slowest step, runs on a worker thread (the op releases the GIL) beside the rest.
        """
        int8 = quantize and device.type == "cpu"
        with ThreadPoolExecutor(max_workers=1) as pool:
            weights = int8_weights(weights_dir) if int8 else {}
            head_int8 = pool.submit(Int8Linear, weights.pop(HEAD)) if int8 else None
            tokenizer = _load_tokenizer(weights_dir)
            linears = {name: Int8Linear(weight) for name, weight in weights.items()}
            decoder = Gemma3Decoder.from_checkpoint(weights_dir, linears)
            if device.type != "cpu":
                decoder = decoder.to(device=device, dtype=preferred_dtype(device))
            head = LMHead(
                decoder.embed_tokens.weight,
                int8=head_int8.result() if head_int8 is not None else None,
                rerank=rerank,
            )
        return cls(decoder, head, tokenizer, device)

    def encode_chat(self, messages: Sequence[ChatMessage]) -> list[int]:
        """Token ids of Gemma's turn format, ending with an open model turn.

        Message text is tokenized with special tokens split, so a user cannot forge turn markers.
        """
        if not messages:
            raise InputError("messages must not be empty")
        system = "\n\n".join(m.content for m in messages if m.role == "system")
        turns = [m for m in messages if m.role != "system"]
        if not turns or turns[0].role != "user":
            turns = [ChatMessage("user", ""), *turns]
        ids = [self.bos]
        for index, message in enumerate(turns):
            content = message.content
            if index == 0 and system:
                content = f"{system}\n\n{content}" if content else system
            speaker = "user" if message.role == "user" else "model"
            ids += [self.start_turn, *self._plain(f"{speaker}\n{content}"), self.end_turn]
            ids += self._plain("\n")
        return [*ids, self.start_turn, *self._plain("model\n")]

    def _special_id(self, token: str) -> int:
        token_id = self.tokenizer.token_to_id(token)
        if token_id is None:
            raise AssetError(f"the tokenizer lacks Gemma's {token} token")
        return token_id

    def _plain(self, text: str) -> list[int]:
        return self.encode_text(text)

    def encode_text(self, text: str) -> list[int]:
        """Token ids of plain text: no BOS, and special-token spellings split like any text."""
        return self.tokenizer.encode(text, add_special_tokens=False).ids

    def decode(self, ids: list[int]) -> str:
        """Text of generated token ids, special tokens dropped."""
        return self.tokenizer.decode(ids, skip_special_tokens=True)

    def generate(self, messages: Sequence[ChatMessage], options: DecodeOptions) -> Generation:
        """Complete the chat and return the whole answer."""
        stream = self.stream(messages, options)
        for _ in stream:
            pass
        if stream.result is None:
            raise ModelEndpointError("generation ended without a result")
        return stream.result

    def stream(self, messages: Sequence[ChatMessage], options: DecodeOptions) -> GenerationStream:
        """Complete the chat, yielding text deltas; `.result` is set once it is exhausted."""
        prompt = self.encode_chat(messages)
        if options.max_tokens < 1:
            raise InputError("max_tokens must be at least 1")
        if len(prompt) + options.max_tokens > MAX_CONTEXT:
            raise InputError(
                f"prompt ({len(prompt)} tokens) plus max_tokens ({options.max_tokens}) exceeds "
                f"the context of {MAX_CONTEXT} tokens"
            )
        constraint = self._constraint(options)
        return GenerationStream(self, prompt, options, constraint)

    def _constraint(self, options: DecodeOptions) -> JsonConstraint | None:
        if options.json_schema is None and not options.json_object:
            return None
        if self._grammars is None:
            from transformers import PreTrainedTokenizerFast

            from tools.llm.json_constraint import JsonGrammars

            self._grammars = JsonGrammars(
                PreTrainedTokenizerFast(tokenizer_object=self.tokenizer),
                self.decoder.config.vocab_size,
                sorted(self.stop_ids),
            )
        if options.json_schema is not None:
            return self._grammars.for_schema(options.json_schema)
        return self._grammars.for_any_object()

    def tokens(
        self, prompt: list[int], options: DecodeOptions, constraint: JsonConstraint | None
    ) -> Iterator[int]:
        """Decode token ids after `prompt`, ending at a stop token or the token budget.

        With a JSON constraint the budget stretches by up to `JSON_OVERRUN` tokens, in closing
        mode, so the JSON always completes; if it still cannot, that is an error, not bad JSON.
        """
        budget = options.max_tokens + (JSON_OVERRUN if constraint else 0)
        generator = None
        if options.temperature > 0 and options.seed is not None:
            generator = torch.Generator(device=self.device).manual_seed(options.seed)
        cache = self.decoder.new_cache(len(prompt) + budget)
        hidden = self._forward(prompt, cache, 0)
        for step in range(budget):
            closing = options.max_tokens - step <= JSON_CLOSING_RESERVE
            token = self._next(hidden, constraint, closing, options.temperature, generator)
            yield token
            if token in self.stop_ids or (constraint is not None and constraint.terminated):
                return
            if step + 1 == budget:
                break
            hidden = self._forward([token], cache, len(prompt) + step)
        if constraint is not None:
            raise ModelEndpointError(
                f"the model did not complete the JSON within {budget} tokens; raise max_tokens"
            )

    @torch.inference_mode()
    def _forward(self, ids: list[int], cache: KVCache, start: int) -> torch.Tensor:
        """The last position's hidden state after running `ids` at positions `start...`."""
        return self.decoder(torch.tensor(ids, device=self.device), cache, start)[-1:]

    @torch.inference_mode()
    def _next(
        self,
        hidden: torch.Tensor,
        constraint: JsonConstraint | None,
        closing: bool,
        temperature: float,
        generator: torch.Generator | None,
    ) -> int:
        """Score the vocabulary, apply the grammar, pick a token and advance the grammar."""
        logits = self.head.logits(hidden)
        if constraint is not None:
            constraint.mask(logits, closing=closing)
        if temperature <= 0:
            token = self.head.greedy(hidden, logits)
        else:
            probs = torch.softmax(logits.float() / temperature, dim=-1)
            token = int(torch.multinomial(probs, 1, generator=generator))
        if constraint is not None:
            constraint.accept(token)
        return token


class GenerationStream:
    """An iterator of text deltas for one request; holds the engine lock while it runs."""

    def __init__(
        self,
        llm: LocalLLM,
        prompt: list[int],
        options: DecodeOptions,
        constraint: JsonConstraint | None,
    ) -> None:
        self.result: Generation | None = None
        self._llm = llm
        self._prompt = prompt
        self._options = options
        self._constraint = constraint
        self._cancelled = threading.Event()
        self._deltas = self._run()

    def __iter__(self) -> GenerationStream:
        return self

    def __next__(self) -> str:
        return next(self._deltas)

    def close(self) -> None:
        """Stop generating early and release the engine; safe to call from any thread."""
        self._cancelled.set()
        if not self._deltas.gi_running:
            self._deltas.close()

    def _run(self) -> Iterator[str]:
        llm, options = self._llm, self._options
        stops = () if self._constraint is not None else tuple(s for s in options.stop if s)
        produced: list[int] = []
        sampled = 0
        emitted = 0
        text = ""
        finish: FinishReason = "length"
        with llm._lock:
            for token in llm.tokens(self._prompt, options, self._constraint):
                sampled += 1
                if self._cancelled.is_set():
                    return
                if token in llm.stop_ids:
                    finish = "stop"
                    break
                produced.append(token)
                text = llm.decode(produced)
                cut = _first_stop(text, stops, max(0, emitted - max(map(len, stops), default=0)))
                if cut is not None:
                    text, finish = text[:cut], "stop"
                    break
                safe = _safe_length(text, stops)
                if safe > emitted:
                    yield text[emitted:safe]
                    emitted = safe
        if len(text) > emitted:
            yield text[emitted:]
        self.result = Generation(
            text=text,
            prompt_tokens=len(self._prompt),
            completion_tokens=sampled,
            finish_reason=finish,
        )


def _first_stop(text: str, stops: tuple[str, ...], start: int) -> int | None:
    hits = [i for i in (text.find(s, start) for s in stops) if i >= 0]
    return min(hits) if hits else None


def _safe_length(text: str, stops: tuple[str, ...]) -> int:
    """How much of `text` can be sent: hold back a partial UTF-8 character or stop-string prefix."""
    end = len(text)
    while end > 0 and text[end - 1] == "\ufffd":
        end -= 1
    for stop in stops:
        for size in range(min(len(stop) - 1, end), 0, -1):
            if text[:end].endswith(stop[:size]):
                end -= size
                break
    return end


def _load_tokenizer(weights_dir: Path) -> Tokenizer:
    try:
        tokenizer = Tokenizer.from_file(str(weights_dir / "tokenizer.json"))
    except Exception as exc:  # the Rust tokenizer raises plain Exception on bad files
        raise AssetError(f"unreadable tokenizer in {weights_dir}: {exc}") from exc
    tokenizer.encode_special_tokens = True
    return tokenizer


def load_local_llm(
    registry: ModelRegistry,
    cache_dir: Path,
    quantize: bool,
    threads: int,
    console: Console | None = None,
) -> LocalLLM:
    """The process-wide LocalLLM: converted once into `cache_dir`, loaded once by the registry."""

    def loader(device: torch.device) -> LocalLLM:
        if threads > 0:
            torch.set_num_threads(threads)
        return LocalLLM.load(ensure_weights(cache_dir, console), device, quantize)

    return registry.get(MODEL_DIR_NAME, loader)
