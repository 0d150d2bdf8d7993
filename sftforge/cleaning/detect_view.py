"""The one detection view that PII scrubbing, injection screening and the release gate read.

``view(text) -> View`` folds the spellings an attacker uses to slip a value past a pattern:

- NFKC per character (full-width ``１３８`` -> ``138``, ``＠`` -> ``@``, ligatures, math letters);
- format characters (Unicode category Cf: ZWJ, ZWNJ, ZWSP, soft hyphen, BOM, bidi marks, tag
  characters) and combining marks (Mn: ``i̇gnore``) removed;
- confusable Cyrillic and Greek letters folded to the Latin letter they look like (``рassword``).

Separators between digits (spaces, dots, dashes) stay in the view; the number detectors of
``sftforge.cleaning.pii`` allow them (``digit_runs``). The view keeps, for each of its
characters, the index of the original character it came from, so a match found in the view is
replaced in the original text (``View.span``): a replacement also removes the invisible
characters inside the match. Output is the view text and its offset map; nothing is stored.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import Iterator

# Look-alikes NFKC leaves alone (Unicode confusables.txt, the letters of Latin script).
_CONFUSABLES = str.maketrans({
    "а": "a", "в": "b", "е": "e", "о": "o", "р": "p", "с": "c", "у": "y", "х": "x", "і": "i",
    "ј": "j", "ѕ": "s", "ԁ": "d", "ԛ": "q", "ԝ": "w", "һ": "h", "ӏ": "l", "ɡ": "g", "к": "k",
    "м": "m", "н": "h", "т": "t", "ь": "b", "А": "A", "В": "B", "Е": "E", "К": "K", "М": "M",
    "Н": "H", "О": "O", "Р": "P", "С": "C", "Т": "T", "Х": "X", "Ѕ": "S", "І": "I", "Ј": "J",
    "Ү": "Y", "α": "a", "ο": "o", "ρ": "p", "ν": "v", "ι": "i", "κ": "k", "υ": "u", "ε": "e",
    "Α": "A", "Β": "B", "Ε": "E", "Ζ": "Z", "Η": "H", "Ι": "I", "Κ": "K", "Μ": "M", "Ν": "N",
    "Ο": "O", "Ρ": "P", "Τ": "T", "Υ": "Y", "Χ": "X", "ı": "i", "ℓ": "l",
})
_DROP_CATEGORIES = frozenset({"Cf", "Mn", "Me"})


@lru_cache(maxsize=4096)
def _fold(ch: str) -> str:
    """The view's spelling of one original character ('' when it is dropped)."""
    if unicodedata.category(ch) in _DROP_CATEGORIES:
        return ""
    out = unicodedata.normalize("NFKC", ch)
    out = "".join(c for c in out if unicodedata.category(c) not in _DROP_CATEGORIES)
    return out.translate(_CONFUSABLES)


@dataclass(frozen=True)
class View:
    """``text`` as detectors read it; ``origin[i]`` is the original index of view char ``i``."""

    text: str
    origin: tuple[int, ...]
    original: str

    def span(self, start: int, end: int) -> tuple[int, int]:
        """The original span covering view span [start, end): whole original characters."""
        if start >= end:
            at = self.origin[start] if start < len(self.origin) else len(self.original)
            return at, at
        return self.origin[start], self.origin[end - 1] + 1


def view(text: str) -> View:
    """The detection view of ``text`` (see the module docstring); linear in ``len(text)``."""
    if text.isascii():  # the common case: nothing to fold, the identity map
        return View(text, tuple(range(len(text))), text)
    parts: list[str] = []
    origin: list[int] = []
    for i, ch in enumerate(text):
        folded = _fold(ch)
        parts.append(folded)
        origin.extend([i] * len(folded))
    return View("".join(parts), tuple(origin), text)


def detection_text(text: str) -> str:
    """Only the view's text (for screens that need no offsets)."""
    return view(text).text


def replace_spans(v: View, edits: list[tuple[int, int, str]]) -> str:
    """The original text with each view span [start, end) replaced by its string.

    ``edits`` must not overlap (the caller keeps the first of overlapping matches)."""
    out: list[str] = []
    last = 0
    for start, end, new in sorted(edits):
        a, b = v.span(start, end)
        if a < last:
            continue
        out += [v.original[last:a], new]
        last = b
    return "".join(out) + v.original[last:]


# --- numbers split by separators ------------------------------------------------------------

# Digit groups joined by one separator each: "138 1234 5678", "138.1234.5678", "6-10 cards".
# Every group but the first has 3+ digits, so dates (2024-01-15) and versions (1.2.3) never
# join into one long number. One pass, no nested quantifier over the same characters.
_RUN = re.compile(r"(?<![\w.+-])\d+(?:[ .\-/]\d{3,})+(?![\w-]|\.\d)", re.ASCII)


def digit_runs(text: str) -> Iterator[tuple[int, int, str]]:
    """(start, end, digits) of each separated digit run of ``text`` (a view's text)."""
    for m in _RUN.finditer(text):
        yield m.start(), m.end(), re.sub(r"\D", "", m.group())
