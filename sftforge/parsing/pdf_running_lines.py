"""Running headers, footers and page numbers of a PDF, removed from its pages in place.

``drop_running_lines(pages)`` works on ``PageLayout`` lines in the top and bottom band of each
page (see its docstring for the rule).
"""

from __future__ import annotations

import re
from collections import defaultdict

from sftforge.parsing.pdf_page import Line, PageLayout

_PAGE_NUM_RE = re.compile(
    r"^\W*(page|p\.|第)?\s*(\d{1,4}|[ivxlc]{1,6})\s*((of|/|共)\s*\d+)?\s*页?\W*$", re.I)
_BAND = 0.1  # top and bottom tenth of the page


def drop_running_lines(pages: list[PageLayout]) -> None:
    """Remove running headers/footers in place: lines in the top/bottom band whose text (digits
    ignored) recurs on 3+ pages and on 40%+ of the pages between its first and last
    occurrence (so chapter running heads of a book count too), and bare page numbers. A line
    in a much larger font than the running copies (the title on page 1) stays."""
    banded = [_band_lines(page) for page in pages]
    seen: dict[tuple[str, str], set[int]] = defaultdict(set)
    sizes: dict[tuple[str, str], list[float]] = defaultdict(list)
    for page, lines in zip(pages, banded):
        for line, key in lines:
            seen[key].add(page.number)
            sizes[key].append(line.size)
    running = {k: sorted(sizes[k])[len(sizes[k]) // 2] for k, p in seen.items()
               if k[1] and len(p) >= 3 and len(p) >= 0.4 * (max(p) - min(p) + 1)}
    for page, lines in zip(pages, banded):
        drop = set()
        for line, key in lines:
            size = running.get(key)
            if (size and line.size <= 1.3 * size) or _PAGE_NUM_RE.match(line.text):
                drop.add(id(line))
        if drop:
            page.items = [i for i in page.items if id(i) not in drop]


def _band_lines(page: PageLayout) -> list[tuple[Line, tuple[str, str]]]:
    """Lines in the top or bottom band of ``page`` with their (band, running key)."""
    top, bottom = _BAND * page.height, (1 - _BAND) * page.height
    out = []
    for item in page.items:
        if type(item) is Line:
            cy = (item.bbox[1] + item.bbox[3]) / 2
            if cy < top:
                out.append((item, ("top", _running_key(item.text))))
            elif cy > bottom:
                out.append((item, ("bottom", _running_key(item.text))))
    return out


def _running_key(text: str) -> str:
    """Text with digits as ``#`` and whitespace runs as one space (page numbers vary)."""
    return " ".join(_DIGITS_RE.sub("#", text.lower()).split())


_DIGITS_RE = re.compile(r"\d+")
