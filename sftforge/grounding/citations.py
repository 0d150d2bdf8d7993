"""Citation check: every quote an answer gives is looked up in its chunk; quotes that are not
there are removed and counted, kept ones carry their character span in the ORIGINAL chunk text.

Input: the model's quotes (``samples`` citations as generated) and the chunk (``chunks.text``,
``chunks.page_start``). Output: ``[{quote, start, end, page}]`` where ``chunk_text[start:end]``
is the quoted passage, plus the number of quotes removed.

Matching is exact after a normalisation applied to both sides, so layout differences are
forgiven and invented words are not: NFKC (full/half width, ligatures), case folding, and
whitespace, punctuation and hyphens/dashes dropped (PDF line breaks, end-of-line hyphenation,
curly vs straight quotes, "，" vs ","). An ellipsis in a quote ("A ... B") elides text: its parts
must appear in order. Quotes shorter than ``min_tokens`` prove nothing ("the", "XSS") and count
as removed.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from functools import lru_cache
from typing import TypedDict

from sftforge.text import estimate_tokens

MIN_QUOTE_TOKENS = 3
_ELLIPSIS_RE = re.compile(r"\s*(?:\.{3,}|…+|\[\s*(?:\.{3}|…)\s*\])\s*")
_APOSTROPHES = frozenset("'‘’‚‛′`")


class Citation(TypedDict):
    """A verified quote: ``chunk_text[start:end]`` is where it stands, ``page`` its page."""

    quote: str
    start: int
    end: int
    page: int


@lru_cache(maxsize=8192)
def _fold(ch: str) -> str:
    """What one character becomes for matching: "" for space, punctuation and dashes."""
    if ch.isspace() or ch == "\u00ad":
        return ""
    if ch in _APOSTROPHES:
        return "'"  # it's / it’s; kept so "its" and "it's" stay different
    out = []
    for c in unicodedata.normalize("NFKC", ch).casefold():
        if not (c.isspace() or unicodedata.category(c).startswith("P")):
            out.append(c)
    return "".join(out)


def fold_with_map(text: str) -> tuple[str, list[int]]:
    """Folded ``text`` and, per folded character, the index of the original one it came from."""
    chars: list[str] = []
    origin: list[int] = []
    for i, ch in enumerate(text):
        for c in _fold(ch):
            chars.append(c)
            origin.append(i)
    return "".join(chars), origin


def fold(text: str) -> str:
    """Folded ``text`` (see the module docstring)."""
    return "".join(_fold(ch) for ch in text)


def locate(quote: str, folded: str, origin: list[int]) -> tuple[int, int] | None:
    """Span ``(start, end)`` in the original text of ``quote`` (parts around an ellipsis in
    order), or ``None`` when it is not there."""
    parts = [fold(p) for p in _ELLIPSIS_RE.split(quote)]
    parts = [p for p in parts if p]
    if not parts:
        return None
    pos, first = 0, -1
    for part in parts:
        at = folded.find(part, pos)
        if at < 0:
            return None
        first = at if first < 0 else first
        pos = at + len(part)
    return origin[first], origin[pos - 1] + 1


def verify_citations(quotes: list[str], chunk_text: str, page: int,
                     min_tokens: int = MIN_QUOTE_TOKENS) -> tuple[list[Citation], int]:
    """Quotes of ``quotes`` found in ``chunk_text`` as ``[{quote, start, end, page}]`` (spans in
    ``chunk_text`` itself, repeats of a span once) and how many quotes were removed (not found,
    or under ``min_tokens``)."""
    folded, origin = fold_with_map(chunk_text)
    kept: list[Citation] = []
    seen: set[tuple[int, int]] = set()
    removed = 0
    for raw in quotes:
        quote = (raw or "").strip().strip("\"'“”‘’「」『』")
        span = locate(quote, folded, origin) if estimate_tokens(quote) >= min_tokens else None
        if span is None:
            removed += 1
        elif span not in seen:
            seen.add(span)
            kept.append(Citation(quote=quote, start=span[0], end=span[1], page=page))
    return kept, removed


def verified_citation_share(citations_per_sample: Iterable[list]) -> float:
    """Share of samples with at least one verified citation (0.0 for no samples); the input is
    each sample's kept citation list (``samples.citations`` decoded)."""
    counts = [bool(c) for c in citations_per_sample]
    return round(sum(counts) / len(counts), 4) if counts else 0.0
