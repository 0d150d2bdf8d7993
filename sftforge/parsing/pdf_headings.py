"""Headings of a PDF: outline (TOC) entries matched to the lines that carry them, or headings
inferred from font sizes and bold lines when the PDF has no outline.

Both return ``id(line) -> level`` for ``PageLayout`` lines; ``body_size`` is the font size of
the running text.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict

from sftforge.parsing.pdf_page import BULLET_RE, Line, PageLayout
from sftforge.text import Block

_CODEISH_RE = re.compile(r"[=;{}<>\"]|\w\(|^\W*$")


def body_size(pages: list[PageLayout]) -> float:
    """The font size that carries the most characters (monospace lines left out)."""
    sizes: Counter[float] = Counter()
    for page in pages:
        for item in page.items:
            if type(item) is Line and not item.mono:
                sizes[item.size] = sizes.get(item.size, 0) + len(item.text)
    return sizes.most_common(1)[0][0] if sizes else 10.0


def infer_headings(pages: list[PageLayout], body: float) -> dict[int, int]:
    """``id(line) -> level``: larger fonts rank first; body-size bold lines that form a whole
    short text region are the lowest level. Big-print paragraphs (4+ lines) are not headings."""
    cands: list[tuple[Line, float | None]] = []
    big = body + max(1.0, 0.12 * body)
    for page in pages:
        regions: dict[int, list[Line]] = defaultdict(list)
        for item in page.items:
            if type(item) is Line:
                regions[item.block].append(item)
        for lines in regions.values():
            # most regions are body text: no big line, and not a short all-bold region
            if len(lines) > 2 and all(x.size < big for x in lines):
                continue
            cands += _region_heading_lines(lines, body)
    sizes = sorted({s for _, s in cands if s is not None}, reverse=True)
    rank = {s: min(i + 1, 6) for i, s in enumerate(sizes)}
    bold_level = min(len(sizes) + 1, 6)
    return {id(line): rank[s] if s is not None else bold_level for line, s in cands}


def _region_heading_lines(lines: list[Line], body: float) -> list[tuple[Line, float | None]]:
    big = body + max(1.0, 0.12 * body)
    out: list[tuple[Line, float | None]] = []
    run: list[Line] = []
    for line in lines + [None]:  # type: ignore[list-item]
        if line is not None and line.size >= big and _headingish(line) and (
                not run or line.size == run[0].size):
            run.append(line)
            continue
        if run and len(run) <= 3 and sum(len(x.text) for x in run) <= 200:
            out += [(x, x.size) for x in run]
        run = [line] if line is not None and line.size >= big and _headingish(line) else []
    if not out and len(lines) <= 2 and all(x.bold and x.size >= body - 0.5 and _headingish(x)
                                           for x in lines):
        if sum(len(x.text) for x in lines) <= 100 and not _CODEISH_RE.search(lines[-1].text):
            out = [(x, None) for x in lines]
    return out


def _headingish(line: Line) -> bool:
    text = line.text.strip()
    return (not line.mono and not line.math and len(text) <= 150
            and len(_LETTER_RE.findall(text)) >= 2 and not BULLET_RE.match(text))


_LETTER_RE = re.compile(r"[^\W\d_]")


def match_toc(pages: list[PageLayout], toc: list[list]) -> tuple[dict, dict]:
    """Mark the lines that carry each outline entry (``id(line) -> level``); entries whose
    text is not found on their page become heading blocks at the top of that page."""
    by_page: dict[int, list[tuple[int, str]]] = defaultdict(list)
    for level, title, page in toc:
        if page >= 1 and title:
            by_page[page].append((level, title))
    heads: dict[int, int] = {}
    inserts: dict[int, list[Block]] = defaultdict(list)
    for page in pages:
        lines = [i for i in page.items if isinstance(i, Line)]
        keys = [_match_key(x.text) for x in lines]
        start = 0
        for level, title in by_page.get(page.number, ()):
            span = _find_title(_match_key(title), lines, keys, start)
            if span is None:
                inserts[page.number].append(
                    Block(kind="heading", text=title, page=page.number, level=level))
                continue
            for line in lines[span[0]:span[1] + 1]:
                heads[id(line)] = level
            start = span[1] + 1
    return heads, inserts


def _find_title(want: str, lines: list[Line], keys: list[str], start: int) -> tuple | None:
    for j in range(start, len(lines)):
        got, k = keys[j], j
        while got and len(got) < len(want) and k + 1 < len(lines) and k - j < 3 \
                and lines[k + 1].block == lines[j].block:
            k += 1
            got += keys[k]
        if want and got and want in got and len(got) <= len(want) + 8:
            return j, k
    return None


def _match_key(text: str) -> str:
    return "".join(ch for ch in text.lower() if ch.isalnum())
