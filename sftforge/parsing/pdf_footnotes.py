"""Footnotes of a PDF page, taken out of the running text so they never land between columns
or inside a sentence that continues on the next page.

``split_footnotes(page, body)`` removes and returns the footnote lines of ``page``: from the
first line in the lower part of the page that is set smaller than the body text and starts with
a note marker (¹, *, †, "1 "), every smaller line below it.
"""

from __future__ import annotations

import re

from sftforge.parsing.pdf_page import Line, PageLayout

_MARKER_RE = re.compile(r"^\s*(?:[¹²³⁴⁵⁶⁷⁸⁹⁰]+|[*†‡§]+|\d{1,3}[.)]?\s|\[\d{1,3}\]|注\s*\d)")
_LOWER_PART = 0.6  # notes start below 60% of the page height
_SMALLER = 0.9  # and are set at most 90% of the body size


def split_footnotes(page: PageLayout, body: float) -> list[Line]:
    """Remove the footnote lines from ``page.items`` (in place); return them in order."""
    lines = [i for i in page.items if type(i) is Line]
    small = [ln for ln in lines if ln.size <= _SMALLER * body and not (ln.mono or ln.math)]
    starts = [ln for ln in small if ln.bbox[1] > _LOWER_PART * page.height
              and _MARKER_RE.match(ln.text)]
    if not starts:
        return []
    top = min(ln.bbox[1] for ln in starts)
    notes = sorted((ln for ln in small if ln.bbox[1] >= top - 1),
                   key=lambda ln: (ln.bbox[1], ln.bbox[0]))
    ids = {id(ln) for ln in notes}
    page.items = [i for i in page.items if id(i) not in ids]
    return notes
