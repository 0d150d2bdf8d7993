"""One PDF page as text lines and tables in reading order.

``read_page(page)`` -> ``PageLayout``: horizontal lines with their font facts (dominant size,
bold, monospace, math), ruled tables as Markdown (lines inside a table are replaced by it),
grouped into text regions and ordered by XY-cut (``sftforge.parsing.reading_order``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

import pymupdf

from sftforge.parsing.pdf_hidden import clipped_spans, drop_hidden_spans
from sftforge.parsing.pdf_tables import TEXT_FLAGS, Table, find_tables
from sftforge.parsing.reading_order import reading_order
from sftforge.text import garbled_share

_MIN_PAGE_CHARS = 40  # fewer non-space characters than this: the page carries no real text

_MONO_RE = re.compile(r"mono|courier|consol|menlo|inconsolata|typewriter|fixed|code|"
                      r"(^|[+,-])(cmtt|sftt|lmtt|tt\d)", re.I)
_MATH_RE = re.compile(r"cmmi|cmsy|cmex|msam|msbm|math|stix|symbol|rsfs|esint|mtmi|mtsy|euclid",
                      re.I)
_BOLD_RE = re.compile(r"bold|black|heavy|semibold|demi", re.I)


@dataclass(slots=True)
class Line:
    """One horizontal text line with the font facts headings and code detection need."""

    text: str
    bbox: tuple[float, float, float, float]
    size: float
    bold: bool
    mono: bool
    math: bool
    block: int = 0  # text region on the page, in reading order



@dataclass
class PageLayout:
    """A page as lines and tables in reading order."""

    number: int  # 1-based
    height: float
    items: list[Line | Table]
    has_images: bool
    hidden: list[tuple[str, str]] = field(default_factory=list)  # (reason, text) not read

    def text(self) -> str:
        return "\n".join(i.text if isinstance(i, Line) else i.markdown for i in self.items)

    def n_chars(self) -> int:
        """Non-space characters on the page."""
        return sum(map(len, self.text().split()))

    def garbled(self) -> float:
        """``garbled_share`` of the page text (of its first 4000 characters: a fair sample)."""
        return garbled_share(self.text()[:4000])


def read_page(page: pymupdf.Page) -> PageLayout:
    """Lines and tables of ``page`` in reading order (rotated text such as margin stamps is
    skipped; lines whose words went into a detected table are replaced by the table; text a
    reader cannot see is left out and listed in ``hidden``, see ``pdf_hidden``)."""
    # TEXT_CLIP: text painted outside the clip path in force is not on the page a reader sees
    textpage = page.get_textpage(flags=TEXT_FLAGS | pymupdf.TEXT_CLIP)
    # TextPage.extractDICT is what get_text("dict") returns, without its per-call cropbox
    data = textpage.extractDICT()
    # The text pass and the drawings are in unrotated page space, and so is this box (not
    # page.rect, which is rotated); a Rect costs ~10 us in pymupdf: made once per page.
    rect = textpage.rect
    # before tables and lines: hidden text must reach neither
    hidden = clipped_spans(page, data["blocks"], TEXT_FLAGS | pymupdf.TEXT_CLIP)
    hidden += drop_hidden_spans(page, data["blocks"], rect)
    tables = find_tables(page, data, textpage, rect)
    groups, boxes = _regions(data["blocks"], tables, tuple(rect))
    items: list[Line | Table] = []
    n_chars = 0
    for region, gi in enumerate(reading_order(boxes)):
        for item in groups[gi]:
            if type(item) is Line:
                item.block = region
                n_chars += len(item.text.strip())
            items.append(item)
    has_images = n_chars < _MIN_PAGE_CHARS and bool(page.get_images())
    return PageLayout(page.number + 1, rect.height, items, has_images, hidden)


def _regions(blocks: list[dict], tables: list[Table],
             page_box: tuple) -> tuple[list[list], list[tuple]]:
    """Text regions (mupdf's blocks, lines that went into a table left out) and tables, with
    their boxes: the units reading order sorts. Text outside ``page_box`` is dropped."""
    groups: list[list] = [[t] for t in tables]
    boxes = [t.bbox for t in tables]
    in_tables = set().union(*(t.lines for t in tables))
    for b, blk in enumerate(blocks):
        x0, y0, x1, y1 = blk["bbox"]
        if x0 < page_box[0] or y0 < page_box[1] or x1 > page_box[2] or y1 > page_box[3]:
            blk = _clip_block(blk, page_box)
        raws = blk.get("lines", ())
        if in_tables:
            raws = [raw for n, raw in enumerate(raws) if (b, n) not in in_tables]
        lines = [ln for raw in raws if (ln := _line(raw))]
        if lines:
            groups.append(lines)
            boxes.append(_group_box(lines))
    return groups, boxes


def _clip_block(blk: dict, box: tuple) -> dict:
    """``blk`` without the spans that lie wholly outside ``box`` (what mupdf's mediabox clip
    does per glyph, done per span and only for the rare blocks that reach off the page).
    Lines keep their places (an emptied line yields no ``Line``): tables name lines by index."""
    def out(b: tuple) -> bool:
        return b[2] < box[0] or b[0] > box[2] or b[3] < box[1] or b[1] > box[3]

    lines = [{**line, "spans": [s for s in line["spans"] if not out(s["bbox"])]}
             for line in blk.get("lines", ())]
    return {**blk, "lines": lines}


def _line(raw: dict) -> Line | None:
    """A ``Line`` of a dict-mode line, or None for rotated or blank lines."""
    dx, dy = raw["dir"]
    if dy > 0.01 or dy < -0.01 or dx < 0:
        return None
    spans = raw["spans"]
    if len(spans) == 1:  # most lines: no per-span bookkeeping needed
        return _one_span_line(spans[0], raw["bbox"])
    chars = bold = mono = math = 0
    sizes: dict[float, int] = {}
    x0, x1 = float("inf"), float("-inf")
    for span in spans:
        text = span["text"]
        stripped = text.strip()
        n = len(stripped)
        if not n:
            continue
        is_bold, is_mono, is_math = _font_kind(span["font"], span["flags"])
        chars += n
        size = _half_point(span["size"])
        sizes[size] = sizes.get(size, 0) + n
        bold += n * is_bold
        mono += n * is_mono
        math += n * is_math
        sx0, sx1 = _ink_x(span["bbox"], text, n)
        x0, x1 = min(x0, sx0), max(x1, sx1)
    if not chars:
        return None
    text = "".join(span["text"] for span in spans)
    if "\xad" in text:
        text = text.replace("\xad", "")
    bbox = (x0, raw["bbox"][1], x1, raw["bbox"][3])
    return Line(text, bbox, max(sizes, key=sizes.__getitem__), bold >= 0.9 * chars,
                mono >= 0.8 * chars, math >= 0.4 * chars)


def _one_span_line(span: dict, line_box: tuple) -> Line | None:
    """``_line`` of a line with one span (same result, a third of the work)."""
    text = span["text"]
    n = len(text.strip())
    if not n:
        return None
    x0, x1 = _ink_x(span["bbox"], text, n)
    if "\xad" in text:
        text = text.replace("\xad", "")
    bold, mono, math = _font_kind(span["font"], span["flags"])
    return Line(text, (x0, line_box[1], x1, line_box[3]), _half_point(span["size"]),
                bold, mono, math)


def _ink_x(bbox: tuple, text: str, n: int) -> tuple[float, float]:
    """Left and right x of a span's text without its leading/trailing layout spaces, which
    stretch a span's box across column gutters; ``n`` is the stripped length."""
    if n == len(text):
        return bbox[0], bbox[2]
    per_char = (bbox[2] - bbox[0]) / len(text)
    return (bbox[0] + per_char * (len(text) - len(text.lstrip())),
            bbox[2] - per_char * (len(text) - len(text.rstrip())))


def _half_point(size: float) -> float:
    """Font size rounded to half a point (a page has a handful of sizes: a dict beats round)."""
    half = _HALF_POINTS.get(size)
    if half is None:
        if len(_HALF_POINTS) > 4096:
            _HALF_POINTS.clear()
        half = _HALF_POINTS[size] = round(size * 2) / 2
    return half


_HALF_POINTS: dict[float, float] = {}


@lru_cache(maxsize=512)
def _font_kind(font: str, flags: int) -> tuple[bool, bool, bool]:
    """(bold, monospace, math) of a span's font, from its flags and name."""
    return (bool(flags & 16 or _BOLD_RE.search(font)), bool(flags & 8 or _MONO_RE.search(font)),
            bool(_MATH_RE.search(font)))


def _group_box(lines: list[Line]) -> tuple[float, float, float, float]:
    if len(lines) == 1:
        return lines[0].bbox
    x0s, y0s, x1s, y1s = zip(*[ln.bbox for ln in lines])
    return min(x0s), min(y0s), max(x1s), max(y1s)


# Bullets and numbered items open list items; such lines are never headings.
BULLET_RE = re.compile(r"^\s*([•●○◦▪▫■□‣⁃∙·\-–*\uf0a7\uf0b7\uf0d8\uf0fc\uf076]|\(?\d{1,2}[.)]|"
                        r"\(?[a-z][.)])\s+")
