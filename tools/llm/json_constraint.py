"""JSON-constrained decoding with xgrammar: bounded grammars, token masks, and a closing mode.

A tiny base model given an unbounded JSON grammar happily writes digits or string characters
until its token budget runs out, which leaves invalid JSON. So every grammar here is bounded
(strings, numbers and arrays get limits where the schema leaves them open), whitespace is fixed,
and near the end of the budget the decoder switches to a closing mode that favours tokens which
end strings, arrays and objects.

Usage:
    grammars = JsonGrammars(tokenizer, vocab_size=262144, stop_token_ids=[1, 106])
    constraint = grammars.for_schema({"type": "object", ...})   # or grammars.for_any_object()
    constraint.mask(logits, closing=False); constraint.accept(token)
"""

from __future__ import annotations

import copy
import json
import threading
from typing import Any

import torch
import xgrammar as xgr
from transformers import PreTrainedTokenizerBase

from state.errors import InputError

MAX_STRING_CHARS = 256
MAX_ARRAY_ITEMS = 16
INTEGER_LIMIT = 10**12
NUMBER_LIMIT = 1e12
_CLOSING_CHARS = frozenset('"}]')
_OPEN_SCHEMA_KEYS = ("enum", "const", "maxLength", "pattern", "format")

_ANY_OBJECT_EBNF = rf"""
root ::= "{{" (pair (", " pair){{0,{MAX_ARRAY_ITEMS - 1}}})? "}}"
pair ::= string ": " value
value ::= scalar | "[" (inner (", " inner){{0,{MAX_ARRAY_ITEMS - 1}}})? "]" | inner_object
inner_object ::= "{{" (string ": " inner (", " string ": " inner){{0,{MAX_ARRAY_ITEMS - 1}}})? "}}"
inner ::= scalar | "[" (scalar (", " scalar){{0,{MAX_ARRAY_ITEMS - 1}}})? "]"
scalar ::= string | number | "true" | "false" | "null"
string ::= "\"" char{{0,{MAX_STRING_CHARS}}} "\""
char ::= [^"\\\x00-\x1f] | "\\" ["\\/bfnrt]
number ::= "-"? ("0" | [1-9] [0-9]{{0,11}}) ("." [0-9]{{1,6}})?
"""


def bound_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """A copy of `schema` whose open strings, numbers and arrays get finite limits.

    Any JSON valid for the bounded schema is valid for the original one.
    """
    bounded = copy.deepcopy(schema)
    _bound(bounded)
    return bounded


def _bound(node: Any) -> None:
    if isinstance(node, list):
        for item in node:
            _bound(item)
        return
    if not isinstance(node, dict):
        return
    types = node.get("type")
    type_set = set(types) if isinstance(types, list) else {types}
    open_value = not any(key in node for key in _OPEN_SCHEMA_KEYS)
    if "string" in type_set and open_value:
        node["maxLength"] = MAX_STRING_CHARS
    if "integer" in type_set and "enum" not in node and "const" not in node:
        node.setdefault("minimum", -INTEGER_LIMIT)
        node.setdefault("maximum", INTEGER_LIMIT)
    if "number" in type_set and "enum" not in node and "const" not in node:
        node.setdefault("minimum", -NUMBER_LIMIT)
        node.setdefault("maximum", NUMBER_LIMIT)
    if "array" in type_set:
        node.setdefault("maxItems", MAX_ARRAY_ITEMS)
    for value in node.values():
        if isinstance(value, dict | list):
            _bound(value)


class JsonConstraint:
    """One generation's grammar state: masks logits to grammar-legal tokens, tracks acceptance."""

    def __init__(
        self, compiled: xgr.CompiledGrammar, vocab_size: int, closing_ids: torch.Tensor
    ) -> None:
        self.matcher = xgr.GrammarMatcher(compiled)
        self.bitmask = xgr.allocate_token_bitmask(1, vocab_size)
        self.closing_ids = closing_ids

    def mask(self, logits: torch.Tensor, closing: bool) -> None:
        """Set illegal tokens' scores to -inf in place; in closing mode lift closing tokens."""
        self.matcher.fill_next_token_bitmask(self.bitmask)
        if logits.dtype != torch.float32:
            raise ValueError("grammar masks need fp32 logits")
        xgr.apply_token_bitmask_inplace(logits.view(1, -1), self.bitmask.to(logits.device))
        if closing:
            logits.index_add_(
                0,
                self.closing_ids.to(logits.device),
                torch.full((len(self.closing_ids),), 1e4, device=logits.device),
            )

    def accept(self, token: int) -> None:
        """Advance the grammar by `token`; a token the mask allowed is always accepted."""
        if not self.matcher.accept_token(token):
            raise RuntimeError(f"grammar rejected token {token} that its own mask allowed")

    @property
    def terminated(self) -> bool:
        """True once the JSON is complete and a stop token was accepted."""
        return self.matcher.is_terminated()

    @property
    def complete(self) -> bool:
        """True when the JSON text is complete (a stop token is legal now)."""
        return self.matcher.is_completed()


class JsonGrammars:
    """Compiles bounded JSON grammars for one tokenizer and caches them by schema."""

    def __init__(
        self, tokenizer: PreTrainedTokenizerBase, vocab_size: int, stop_token_ids: list[int]
    ) -> None:
        self.vocab_size = vocab_size
        info = xgr.TokenizerInfo.from_huggingface(
            tokenizer, vocab_size=vocab_size, stop_token_ids=stop_token_ids
        )
        self.compiler = xgr.GrammarCompiler(info, cache_enabled=True)
        closing = [
            i
            for i, text in enumerate(info.decoded_vocab)
            if text and set(text.decode("utf-8", "replace")) <= _CLOSING_CHARS
        ]
        # Inside an open string `}` and `]` are legal text that closes nothing, so tokens that
        # end the string are lifted twice: the model cannot fill a string with brackets forever.
        quoting = [i for i in closing if b'"' in info.decoded_vocab[i]]
        self.closing_ids = torch.tensor(closing + list(stop_token_ids) + quoting, dtype=torch.long)
        self._lock = threading.Lock()

    def for_schema(self, schema: dict[str, Any]) -> JsonConstraint:
        """A constraint producing JSON valid for `schema` (bounded, compact whitespace)."""
        text = json.dumps(bound_schema(schema))
        try:
            with self._lock:
                compiled = self.compiler.compile_json_schema(text, any_whitespace=False)
        except (RuntimeError, ValueError) as exc:
            raise InputError(f"unsupported JSON schema: {exc}") from exc
        return JsonConstraint(compiled, self.vocab_size, self.closing_ids)

    def for_any_object(self) -> JsonConstraint:
        """A constraint producing one bounded JSON object (the `json_object` response format)."""
        with self._lock:
            compiled = self.compiler.compile_grammar(_ANY_OBJECT_EBNF)
        return JsonConstraint(compiled, self.vocab_size, self.closing_ids)
