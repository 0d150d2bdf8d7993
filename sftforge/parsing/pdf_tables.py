"""Ruled tables of a PDF page as Markdown.

``find_tables(page, data, textpage, rect)`` reads the page's vector rules once
(``sftforge.parsing.pdf_rules``) and the cells of every grid they form (``sftforge.parsing.pdf_grid``:
regular lattices, merged cells, tables nested in panels), filled with the words of the text
pass. ``table_markdown(rows)`` renders cells, or rejects layout grids (slide panels, text
boxes).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pymupdf

from sftforge.parsing.pdf_grid import grid_tables
from sftforge.parsing.pdf_rules import closing_rules, grid_regions, may_draw_rules, page_rules
from sftforge.text import join_lines

# No TEXT_MEDIABOX_CLIP: it bounds every glyph (~10% of the text pass); text outside the page
# is dropped per span in sftforge.parsing.pdf_page instead.
TEXT_FLAGS = pymupdf.TEXT_PRESERVE_WHITESPACE


@dataclass(slots=True)
class Table:
    """A ruled table as Markdown, with its box on the page and the text lines its cells took
    (``(block, line)`` indices of the page's text dict)."""

    markdown: str
    bbox: tuple[float, float, float, float]
    lines: frozenset[tuple[int, int]] = frozenset()


def inside(box: tuple, outer: tuple) -> bool:
    """True when the centre of ``box`` lies in ``outer``."""
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    return outer[0] <= cx <= outer[2] and outer[1] <= cy <= outer[3]


def find_tables(page: pymupdf.Page, data: dict | None = None,
                textpage: pymupdf.TextPage | None = None,
                rect: pymupdf.Rect | None = None) -> list[Table]:
    """Ruled tables on ``page`` as Markdown; ``data``/``textpage`` are the page's text pass
    (``TextPage.extractDICT``), ``rect`` its ``page.rect``.

    Pages whose content stream draws no rules skip everything; otherwise the grids are read
    from the rules and the words of the text spans. (pymupdf's ``Page.find_tables`` costs
    10-170 ms a grid, as it looks at every character in its clip; on slide decks, whose
    panels are frames of rules, it took ~85% of the time.)"""
    if not may_draw_rules(page):
        return []
    rect = rect or page.rect
    hs, vs = page_rules(page, abs(rect))
    if len(hs) < 3 or len(vs) < 3:
        return []
    hs += closing_rules(hs, vs, rect.height)
    regions = grid_regions(hs, vs, rect.height)
    if not regions:
        return []
    if data is None:
        data = (textpage or page.get_textpage(flags=TEXT_FLAGS)).extractDICT()
    words = _span_words(data, regions)
    out: list[Table] = []
    for region in regions:
        found = []  # a region's tables may nest (a table in a slide panel): all of them count
        for rows, box in grid_tables(tuple(region), hs, vs, words):
            markdown = table_markdown([[_words_text(ws) for ws in row] for row in rows])
            if markdown and not any(inside(box, o.bbox) for o in out):
                took = frozenset((w[5], w[6]) for row in rows for ws in row for w in ws)
                found.append(Table(markdown, box, took))
        out += found
    return out


def _span_words(data: dict, regions: list[pymupdf.Rect]) -> list[tuple]:
    """Words in ``regions`` as (x0, y0, x1, y1, word, block, line), positions interpolated
    inside each span (exact enough to put a word in a table cell, and free: no second text
    extraction)."""
    out = []
    for b, blk in enumerate(data["blocks"]):
        for n, line in enumerate(blk.get("lines", ())):
            ly0, ly1 = line["bbox"][1], line["bbox"][3]
            if not any(r.y0 <= ly1 and ly0 <= r.y1 for r in regions):
                continue
            for span in line["spans"]:
                text = span["text"]
                x0, y0, x1, y1 = span["bbox"]
                step = (x1 - x0) / max(1, len(text))
                for m in _NONSPACE_RE.finditer(text):
                    start, end = x0 + step * m.start(), x0 + step * m.end()
                    out.append((start, y0, end, y1, m.group(), b, n))
    return out


_NONSPACE_RE = re.compile(r"\S+")


def _words_text(words: list) -> str:
    """Words of one cell as text, one line per text line (so hyphenation can be undone)."""
    lines: dict[tuple, list[str]] = {}
    for w in words:
        lines.setdefault((w[5], w[6]), []).append(w[4])
    return "\n".join(" ".join(ws) for ws in lines.values())


def table_markdown(rows: list[list[str | None]]) -> str | None:
    """Markdown of a table's cells, or None when the grid is layout, not a data table
    (one row/column, mostly empty cells, or paragraphs in cells: slide panels, text boxes)."""
    cells = [[join_lines((c or "").split("\n")).replace("|", "\\|") for c in r] for r in rows]
    cells = [r for r in cells if any(r)]
    keep = [j for j in range(max(map(len, cells), default=0)) if any(j < len(r) and r[j]
                                                                       for r in cells)]
    cells = [[r[j] if j < len(r) else "" for j in keep] for r in cells]
    filled = [c for r in cells for c in r if c]
    # One row is allowed: the part of a table that spills onto the next page (see _tidy).
    if not cells or len(keep) < 2 or len(filled) < max(2, 0.3 * len(keep) * len(cells)):
        return None
    total = sum(map(len, filled))
    if total / len(filled) > 150 or (total > 200 and max(map(len, filled)) > 0.5 * total):
        return None
    lines = ["| " + " | ".join(cells[0]) + " |", "|" + " --- |" * len(keep)]
    lines += ["| " + " | ".join(r) + " |" for r in cells[1:]]
    return "\n".join(lines)
