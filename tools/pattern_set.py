"""Find the first of many regular expressions that matches a text, in one pass where possible.

The guards and the safety lexicon each check a message against dozens of patterns, in order,
and want the first that matches. Python's `re` scans the text once per pattern (about 6 ms for
49 injection patterns over 2,000 characters on these CPUs). google-re2's `Set` scans it once for
all of them (about 0.02 ms). RE2 has no look-around and its `\\b`, `\\w` and `\\s` are ASCII-only,
so results are taken from the RE2 set only for ASCII text without vertical tabs or the ASCII
separator controls (where both engines agree), and from `re` otherwise; patterns RE2 rejects
always run on `re`, in their place in the order.

Usage:
    patterns = PatternSet([r"\\bignore\\s+all\\b", r"(?!x)y"], ignore_case=True)
    patterns.first("Please IGNORE all of it")   # 0: the index of the first pattern that matches
    patterns.first("nothing here")              # None
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import re2

_RE2_DIFFERS = re.compile(r"[\x0b\x1c-\x1f]")
"""ASCII characters that Python's `\\s` matches and RE2's does not."""


class PatternSet:
    """Ordered patterns; `first(text)` is the index of the first one that `re.search` finds."""

    def __init__(self, patterns: Sequence[str], *, ignore_case: bool = False) -> None:
        flags = re.IGNORECASE if ignore_case else 0
        self._compiled = [re.compile(pattern, flags) for pattern in patterns]
        options = re2.Options()
        options.case_sensitive = not ignore_case
        options.log_errors = False
        self._set = re2.Set.SearchSet(options)
        self._set_index: dict[int, int] = {}
        self._python_only: list[int] = []
        for index, pattern in enumerate(patterns):
            try:
                self._set_index[self._set.Add(pattern)] = index
            except re2.error:
                self._python_only.append(index)
        self._set.Compile()

    def first(self, text: str) -> int | None:
        """Index of the first pattern (in order) that matches anywhere in `text`, else None."""
        if not text.isascii() or _RE2_DIFFERS.search(text):
            return next((i for i, p in enumerate(self._compiled) if p.search(text)), None)
        matched = self._set.Match(text) or ()  # None when nothing matches
        best = min((self._set_index[i] for i in matched), default=None)
        for index in self._python_only:
            if best is not None and index > best:
                break
            if self._compiled[index].search(text):
                return index
        return best
