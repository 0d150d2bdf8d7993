"""PDF to structural blocks with pymupdf.

``read_pdf(doc)`` then ``pdf_blocks(pages, toc)`` give headings (from the PDF outline when it
has one, else inferred from font sizes and bold lines), paragraphs, lists, code (monospace
lines, verbatim), formulas (math-font lines) and ruled tables as Markdown (table areas are cut
out of the running text), each with its 1-based page, in reading order (XY-cut, so columns are
read one after the other). Running headers, footers and page numbers are removed; paragraphs,
tables and listings cut by a page break are joined again.
Quarantine decisions (encrypted, corrupt, image-only, garbled) live in ``tasks/ingest.py``.
"""

from __future__ import annotations

import bisect
import os
import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from functools import lru_cache

import pymupdf

from sftforge.text import Block, garbled_share, join_lines

pymupdf.TOOLS.mupdf_display_errors(False)  # broken files are reported as quarantine reasons
# find_tables prints an advert for pymupdf's layout model; we call it with use_layout=False.
os.environ.setdefault("PYMUPDF_SUGGEST_LAYOUT_ANALYZER", "0")

_TEXT_FLAGS = pymupdf.TEXT_PRESERVE_WHITESPACE | pymupdf.TEXT_MEDIABOX_CLIP
_MIN_PAGE_CHARS = 40  # fewer non-space characters than this: the page carries no real text


def read_pdf(doc: pymupdf.Document) -> tuple[list[PageLayout], list[list]]:
    """Pages of an open PDF in reading order, running headers/footers removed, and its outline
    as ``[level, title, page]``."""
    pages = [read_page(page) for page in doc]
    drop_running_lines(pages)
    toc = [[int(lv), str(t).strip(), int(p)] for lv, t, p, *_ in doc.get_toc(simple=True)]
    return pages, toc


def pdf_blocks(pages: list[PageLayout], toc: list[list]) -> tuple[list[Block], list[list]]:
    """Blocks of the pages and the TOC: the PDF outline when it has 2+ entries, else the
    inferred headings."""
    blocks = build_blocks(pages, toc if len(toc) >= 2 else None)
    if len(toc) < 2:
        toc = [[b["level"], b["text"], b["page"]] for b in blocks if b["kind"] == "heading"]
    return blocks, toc


# ---------------------------------------------------------------- page reading

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


@dataclass(slots=True)
class Table:
    markdown: str
    bbox: tuple[float, float, float, float]


@dataclass
class PageLayout:
    """A page as lines and tables in reading order."""

    number: int  # 1-based
    height: float
    items: list[Line | Table]
    has_images: bool

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
    skipped; lines inside a detected table are replaced by the table)."""
    textpage = page.get_textpage(flags=_TEXT_FLAGS)
    data = page.get_text("dict", textpage=textpage)
    tables = find_tables(page, data, textpage)
    groups: list[list] = [[t] for t in tables]
    for blk in data["blocks"]:
        lines = [ln for raw in blk.get("lines", ()) if (ln := _line(raw))]
        lines = [ln for ln in lines if not any(_inside(ln.bbox, t.bbox) for t in tables)]
        if lines:
            groups.append(lines)
    boxes = [_group_box(g) for g in groups]
    items: list[Line | Table] = []
    for region, gi in enumerate(reading_order(boxes)):
        for item in groups[gi]:
            if isinstance(item, Line):
                item.block = region
            items.append(item)
    n_chars = sum(len(i.text.strip()) for i in items if isinstance(i, Line))
    has_images = n_chars < _MIN_PAGE_CHARS and bool(page.get_images())
    return PageLayout(page.number + 1, page.rect.height, items, has_images)


def _line(raw: dict) -> Line | None:
    dx, dy = raw["dir"]
    if abs(dy) > 0.01 or dx < 0:
        return None
    chars = bold = mono = math = 0
    sizes: dict[float, int] = {}
    x0, x1 = float("inf"), float("-inf")
    for span in raw["spans"]:
        text = span["text"]
        stripped = text.strip()
        n = len(stripped)
        if not n:
            continue
        is_bold, is_mono, is_math = _font_kind(span["font"], span["flags"])
        chars += n
        size = round(span["size"] * 2) / 2
        sizes[size] = sizes.get(size, 0) + n
        bold += n * is_bold
        mono += n * is_mono
        math += n * is_math
        sx0, _, sx1, _ = span["bbox"]
        if n == len(text):
            x0, x1 = min(x0, sx0), max(x1, sx1)
        else:  # layout spaces stretch a span's box across column gutters; trim them off
            per_char = (sx1 - sx0) / len(text)
            x0 = min(x0, sx0 + per_char * (len(text) - len(text.lstrip())))
            x1 = max(x1, sx1 - per_char * (len(text) - len(text.rstrip())))
    if not chars:
        return None
    text = "".join(span["text"] for span in raw["spans"])
    if "\xad" in text:
        text = text.replace("\xad", "")
    bbox = (x0, raw["bbox"][1], x1, raw["bbox"][3])
    return Line(text, bbox, max(sizes, key=sizes.__getitem__), bold >= 0.9 * chars,
                mono >= 0.8 * chars, math >= 0.4 * chars)


@lru_cache(maxsize=512)
def _font_kind(font: str, flags: int) -> tuple[bool, bool, bool]:
    """(bold, monospace, math) of a span's font, from its flags and name."""
    return (bool(flags & 16 or _BOLD_RE.search(font)), bool(flags & 8 or _MONO_RE.search(font)),
            bool(_MATH_RE.search(font)))


def _inside(box: tuple, outer: tuple) -> bool:
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    return outer[0] <= cx <= outer[2] and outer[1] <= cy <= outer[3]


def _group_box(group: list) -> tuple[float, float, float, float]:
    boxes = [g.bbox for g in group]
    return (min(b[0] for b in boxes), min(b[1] for b in boxes),
            max(b[2] for b in boxes), max(b[3] for b in boxes))


def reading_order(boxes: list[tuple[float, float, float, float]]) -> list[int]:
    """Indices of ``boxes`` in reading order by recursive XY-cut: split into columns at a
    vertical gap through the whole region, else into rows at horizontal gaps; adjacent rows
    that share a column gutter are read together, so a two-column body under a full-width
    title is read column by column even where both columns happen to have a gap."""

    def cut(idx: list[int]) -> list[int]:
        if len(idx) <= 1:
            return idx
        cols = _split(idx, boxes, 0, 4.0)
        if len(cols) > 1:
            return [i for col in cols for i in cut(col)]
        rows = _split(idx, boxes, 1, 0.5)
        if len(rows) == 1:
            return sorted(idx, key=lambda i: (boxes[i][1], boxes[i][0]))
        merged = [rows[0]]
        for row in rows[1:]:
            if len(_split(merged[-1] + row, boxes, 0, 4.0)) > 1:
                merged[-1] = merged[-1] + row
            else:
                merged.append(row)
        groups = merged if len(merged) > 1 else rows
        return [i for group in groups for i in cut(group)]

    return cut(list(range(len(boxes))))


def _split(idx: list[int], boxes: list, axis: int, gap: float) -> list[list[int]]:
    parts: list[list[int]] = []
    end = float("-inf")
    for i in sorted(idx, key=lambda i: boxes[i][axis]):
        if boxes[i][axis] > end + gap:
            parts.append([])
        parts[-1].append(i)
        end = max(end, boxes[i][axis + 2])
    return parts


# ---------------------------------------------------------------- tables

def find_tables(page: pymupdf.Page, data: dict | None = None,
                textpage: pymupdf.TextPage | None = None) -> list[Table]:
    """Ruled tables on ``page`` as Markdown; ``data``/``textpage`` are the page's text pass.

    ``Page.find_tables`` costs ~10 ms even for a small table (it looks at every character in
    its clip), so: pages whose content stream draws no rules skip everything; regular
    lattices (every rule spans the grid: most ruled tables) are read directly from the rules
    and the words of the text spans; only irregular grids (merged cells, broken rules) go to
    ``find_tables``, clipped to the grid."""
    if not _may_draw_rules(page):
        return []
    hs, vs = _rules(page)
    if len(hs) < 3 or len(vs) < 3:
        return []
    closing = _closing_rules(hs, vs, page.rect.height)
    hs += closing
    regions = _grid_regions(hs, vs, page.rect.height)
    if not regions:
        return []
    textpage = textpage or page.get_textpage(flags=_TEXT_FLAGS)
    words = _span_words(data or page.get_text("dict", textpage=textpage), regions)
    out: list[Table] = []
    for region in regions:
        found = _lattice_table(region, hs, vs, words)
        tables = [found] if found else _library_tables(page, region, closing, textpage)
        out += [t for t in tables if not any(_inside(t.bbox, o.bbox) for o in out)]
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


def _may_draw_rules(page: pymupdf.Page) -> bool:
    """Cheap gate: a page whose content stream has fewer than 4 path operators (and calls
    no form XObject that could hold more) has no ruled table."""
    try:
        content = page.read_contents()
    except Exception:
        return True
    if b"Do" in content:
        return True
    return len(_PATH_OP_RE.findall(content)) >= 4


_PATH_OP_RE = re.compile(rb"\s(?:re|l)\s")


def _library_tables(page: pymupdf.Page, region: pymupdf.Rect, closing: list[tuple],
                    textpage: pymupdf.TextPage) -> list[Table]:
    add_lines = [((r[0], r[1]), (r[2], r[3])) for r in closing]
    try:
        try:  # pymupdf >= 1.27 gates tables by a layout model: ~1 s a page, far too slow
            found = page.find_tables(clip=region, use_layout=False, add_lines=add_lines)
        except TypeError:
            found = page.find_tables(clip=region, add_lines=add_lines)
    except Exception:  # a malformed drawing must not lose the page's text
        return []
    out = []
    words = page.get_text("words", textpage=textpage) if found.tables else []
    for tab in found.tables:
        markdown = table_markdown(_cell_texts(tab, words) or tab.extract())
        if markdown:
            out.append(Table(markdown, tuple(tab.bbox)))
    return out


def _lattice_table(region: pymupdf.Rect, hs: list[tuple], vs: list[tuple],
                   words: list) -> Table | None:
    """The table of a regular lattice (each horizontal rule spans all columns, each vertical
    rule all rows), or None when the grid is irregular or a word runs across cells."""
    def inside(r: tuple) -> bool:
        return region.x0 <= r[0] and r[2] <= region.x1 and region.y0 <= r[1] and r[3] <= region.y1

    ys = sorted({round(h[1], 1) for h in hs if inside(h)})
    xs = sorted({round(v[0], 1) for v in vs if inside(v)})
    ys = [y for i, y in enumerate(ys) if i == 0 or y - ys[i - 1] > 2]
    xs = [x for i, x in enumerate(xs) if i == 0 or x - xs[i - 1] > 2]
    if len(ys) < 2 or len(xs) < 3:
        return None
    for h in hs:
        if inside(h) and (h[0] > xs[0] + 3 or h[2] < xs[-1] - 3):
            return None
    for v in vs:
        if inside(v) and (v[1] > ys[0] + 3 or v[3] < ys[-1] - 3):
            return None
    cells: list[list[list]] = [[[] for _ in xs[1:]] for _ in ys[1:]]
    for w in words:
        cx, cy = (w[0] + w[2]) / 2, (w[1] + w[3]) / 2
        if not (xs[0] < cx < xs[-1] and ys[0] < cy < ys[-1]):
            continue
        r, c = bisect.bisect(ys, cy) - 1, bisect.bisect(xs, cx) - 1
        if w[0] < xs[c] - 2 or w[2] > xs[c + 1] + 2:
            return None
        cells[r][c].append(w)
    markdown = table_markdown([[_words_text(ws) for ws in row] for row in cells])
    return Table(markdown, (xs[0], ys[0], xs[-1], ys[-1])) if markdown else None


def _cell_texts(tab: object, words: list | None) -> list[list[str]] | None:
    """Cell texts from mupdf's words, which keep the spaces ``Table.extract()`` loses in small
    fonts; None when a word runs across cells (CJK text has no spaces to split on)."""
    rows = [list(row.cells) for row in tab.rows]  # type: ignore[attr-defined]
    texts: list[list[list[str]]] = [[[] for _ in row] for row in rows]
    x0, y0, x1, y1 = tab.bbox  # type: ignore[attr-defined]
    for w in words or ():
        cx, cy = (w[0] + w[2]) / 2, (w[1] + w[3]) / 2
        if not (x0 <= cx <= x1 and y0 <= cy <= y1):
            continue
        for r, row in enumerate(rows):
            for c, cell in enumerate(row):
                if cell and cell[0] <= cx <= cell[2] and cell[1] <= cy <= cell[3]:
                    if w[0] < cell[0] - 2 or w[2] > cell[2] + 2:
                        return None
                    texts[r][c].append(w)
    return [[_words_text(ws) for ws in row] for row in texts]


def _words_text(words: list) -> str:
    """Words of one cell as text, one line per text line (so hyphenation can be undone)."""
    lines: dict[tuple, list[str]] = {}
    for w in words:
        lines.setdefault((w[5], w[6]), []).append(w[4])
    return "\n".join(" ".join(ws) for ws in lines.values())


def _grid_regions(hs: list[tuple], vs: list[tuple], height: float) -> list[pymupdf.Rect]:
    """Boxes around connected rules that form a grid: 3+ vertical rules (2 columns, the least
    ``table_markdown`` keeps) that each cross 3+ horizontal ones (2 rows), or 2 of them for a
    one-row piece at the top or bottom of the page (a table cut by a page break, joined again
    later). Panel frames and underlines do not qualify. Nested boxes are dropped."""
    if len(hs) < 3 or len(vs) < 2:
        return []
    parent = list(range(len(hs) + len(vs)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    crossed: list[set[int]] = [set() for _ in vs]
    for a, h in enumerate(hs):
        for b, v in enumerate(vs):
            if h[0] - 2 <= v[0] <= h[2] + 2 and v[1] - 2 <= h[1] <= v[3] + 2:
                parent[root(a)] = root(len(hs) + b)
                crossed[b].add(round(h[1]))
    groups: dict[int, list[int]] = defaultdict(list)
    for b, v in enumerate(vs):
        at_edge = v[1] < 0.2 * height or v[3] > 0.8 * height
        if len(crossed[b]) >= 3 or (len(crossed[b]) == 2 and at_edge):
            groups[root(len(hs) + b)].append(b)
    regions: list[pymupdf.Rect] = []
    for root_id, cols in groups.items():
        if len({round(vs[b][0]) for b in cols}) < 3:
            continue
        edges = [hs[i] for i in range(len(hs)) if root(i) == root_id] + [vs[b] for b in cols]
        box = pymupdf.Rect(min(e[0] for e in edges) - 2, min(e[1] for e in edges) - 2,
                           max(e[2] for e in edges) + 2, max(e[3] for e in edges) + 2)
        regions.append(box)
    regions.sort(key=lambda r: -abs(r))
    return [r for i, r in enumerate(regions) if not any(r in big for big in regions[:i])]


def _rules(page: pymupdf.Page) -> tuple[list[tuple], list[tuple]]:
    """Horizontal and vertical rules of the page's vector graphics (rect sides count)."""
    page_area = abs(page.rect)
    hs: list[tuple] = []
    vs: list[tuple] = []
    for path in page.get_cdrawings():
        stroked = "s" in (path.get("type") or "")
        for item in path["items"]:
            if item[0] == "l":
                (x0, y0), (x1, y1) = item[1], item[2]
                r = (min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))
            elif item[0] == "re":
                r = tuple(item[1])
            else:
                continue
            w, h = r[2] - r[0], r[3] - r[1]
            if h < 2 and w >= 10:
                hs.append(r)
            elif w < 2 and h >= 10:
                vs.append(r)
            elif w >= 10 and h >= 6 and (stroked or w * h < 0.25 * page_area):
                hs += [(r[0], r[1], r[2], r[1]), (r[0], r[3], r[2], r[3])]
                vs += [(r[0], r[1], r[0], r[3]), (r[2], r[1], r[2], r[3])]
    return _merge_rules(hs, 1, 0), _merge_rules(vs, 0, 1)


def _closing_rules(hs: list[tuple], vs: list[tuple], height: float) -> list[tuple]:
    """Missing horizontal rules where 3+ vertical rules start or end together near the top or
    bottom of the page: the open edge of a table that continues from or onto another page."""
    out = []
    for end in (1, 3):
        ends: dict[int, list[tuple]] = defaultdict(list)
        for v in vs:
            ends[round(v[end])].append(v)
        for y, group in ends.items():
            x0, x1 = min(v[0] for v in group), max(v[2] for v in group)
            drawn = any(abs(h[1] - y) <= 2 and h[0] <= x0 + 2 and h[2] >= x1 - 2 for h in hs)
            near_edge = y < 0.2 * height or y > 0.8 * height
            # inner steps of a grid (header cells of different heights) are crossed by the
            # grid's outer verticals; a cut edge is not
            inner = any(v[1] < y - 2 and v[3] > y + 2 and x0 - 2 <= v[0] <= x1 + 2 for v in vs)
            if near_edge and not inner and not drawn and len({round(v[0]) for v in group}) >= 3:
                out.append((x0, float(y), x1, float(y)))
    return out


def _merge_rules(rules: list[tuple], at: int, along: int) -> list[tuple]:
    """Join collinear touching rules (cell borders drawn cell by cell) into long ones."""
    out: list[list[float]] = []
    for r in sorted(rules, key=lambda r: (round(r[at]), r[along])):
        last = out[-1] if out else None
        if last and round(last[at]) == round(r[at]) and r[along] <= last[along + 2] + 2:
            last[along + 2] = max(last[along + 2], r[along + 2])
        else:
            out.append(list(r))
    return [tuple(r) for r in out]


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


# ---------------------------------------------------------------- running headers/footers

_PAGE_NUM_RE = re.compile(
    r"^\W*(page|p\.|第)?\s*(\d{1,4}|[ivxlc]{1,6})\s*((of|/|共)\s*\d+)?\s*页?\W*$", re.I)
_BAND = 0.1  # top and bottom tenth of the page


def drop_running_lines(pages: list[PageLayout]) -> None:
    """Remove running headers/footers in place: lines in the top/bottom band whose text (digits
    ignored) recurs on 3+ pages and on 40%+ of the pages between its first and last
    occurrence (so chapter running heads of a book count too), and bare page numbers. A line
    in a much larger font than the running copies (the title on page 1) stays."""
    seen: dict[tuple[str, str], set[int]] = defaultdict(set)
    sizes: dict[tuple[str, str], list[float]] = defaultdict(list)
    for page in pages:
        for line, band in _band_lines(page):
            key = (band, _running_key(line.text))
            seen[key].add(page.number)
            sizes[key].append(line.size)
    running = {k: sorted(sizes[k])[len(sizes[k]) // 2] for k, p in seen.items()
               if k[1] and len(p) >= 3 and len(p) >= 0.4 * (max(p) - min(p) + 1)}
    for page in pages:
        drop = set()
        for line, band in _band_lines(page):
            size = running.get((band, _running_key(line.text)))
            if (size and line.size <= 1.3 * size) or _PAGE_NUM_RE.match(line.text):
                drop.add(id(line))
        if drop:
            page.items = [i for i in page.items if id(i) not in drop]


def _band_lines(page: PageLayout) -> list[tuple[Line, str]]:
    out = []
    for item in page.items:
        if isinstance(item, Line):
            cy = (item.bbox[1] + item.bbox[3]) / 2
            if cy < _BAND * page.height:
                out.append((item, "top"))
            elif cy > (1 - _BAND) * page.height:
                out.append((item, "bottom"))
    return out


def _running_key(text: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"\d+", "#", text.lower())).strip()


# ---------------------------------------------------------------- blocks

_BULLET_RE = re.compile(r"^\s*([•●○◦▪▫■□‣⁃∙·\-–*\uf0a7\uf0b7\uf0d8\uf0fc\uf076]|\(?\d{1,2}[.)]|"
                        r"\(?[a-z][.)])\s+")
_CODEISH_RE = re.compile(r"[=;{}<>\"]|\w\(|^\W*$")


def build_blocks(pages: list[PageLayout], toc: list[list] | None) -> list[Block]:
    """Blocks of all pages: headings from ``toc`` entries matched on their page (entries not
    found are inserted at the top of the page), else headings inferred from font sizes."""
    body = _body_size(pages)
    if toc:
        heads, inserts = _match_toc(pages, toc)
    else:
        heads, inserts = _infer_headings(pages, body), {}
    blocks: list[Block] = []
    for page in pages:
        blocks += inserts.get(page.number, [])
        blocks += _page_blocks(page, heads)
    return _tidy(blocks, demote_runs=not toc)


_PUA_RE = re.compile("[\ue000-\uf8ff]")
_ALNUM_RE = re.compile(r"[^\W_]")
_ENDS_OPEN_RE = re.compile(r"([A-Za-z0-9,\-]|[\u3400-\u9fff、，（(])$")
_HAN_START_RE = re.compile(r"^[\u3400-\u9fffA-Za-z0-9]")


def _tidy(blocks: list[Block], demote_runs: bool) -> list[Block]:
    """Drop symbol-only paragraphs (private-use arrows, drop caps); join paragraphs that a
    text box or page break cut mid-sentence, and tables and listings that a page break cut;
    demote diagram labels that look like headings (see ``_demote_label_runs``)."""
    out: list[Block] = []
    last_page = 0  # last page the previous block reaches once joined
    for b in blocks:
        if b["kind"] != "code" and _PUA_RE.search(b["text"]):
            b["text"] = _PUA_RE.sub("", b["text"]).strip()
        if b["kind"] in ("paragraph", "heading") and len(b["text"]) < 8 and len(
                _ALNUM_RE.findall(b["text"])) < 2:
            continue
        prev = out[-1] if out else None
        if prev and prev["kind"] == b["kind"]:
            joined = _join_cut(prev, b, b["page"] == last_page + 1)
            if joined is not None:
                prev["text"] = joined
                last_page = b["page"]
                continue
        out.append(b)
        last_page = b["page"]
    for b in out:
        if b["kind"] == "table" and b["text"].count("\n") < 2:  # a lone row is no table
            b["kind"] = "paragraph"
            cells = b["text"].split("\n")[0].strip("| ").split(" | ")
            b["text"] = " ".join(c.strip() for c in cells)
    return _demote_label_runs(out) if demote_runs else out


def _join_cut(prev: Block, b: Block, next_page: bool) -> str | None:
    """Text of ``prev`` and ``b`` joined when ``b`` continues it, else None."""
    if b["kind"] == "paragraph" and _continues(prev["text"], b["text"]):
        return join_lines([prev["text"], b["text"]])
    if b["kind"] == "code" and next_page:
        return prev["text"] + "\n" + b["text"]  # a listing that runs onto the next page
    if b["kind"] == "table" and next_page:
        return _continue_table(prev["text"], b["text"])
    return None


def _demote_label_runs(blocks: list[Block]) -> list[Block]:
    """Inferred headings in runs of 3+ of the same level with nothing between them are
    diagram labels (slides), not headings: they become paragraphs."""
    i = 0
    while i < len(blocks):
        j = i
        while (j < len(blocks) and blocks[j]["kind"] == "heading"
               and blocks[j].get("level") == blocks[i].get("level")):
            j += 1
        if blocks[i]["kind"] == "heading" and j - i >= 3:
            for b in blocks[i:j]:
                b["kind"] = "paragraph"
                b.pop("level", None)
        i = max(j, i + 1)
    return blocks


def _continue_table(first: str, second: str) -> str | None:
    """One table from a table and its continuation on the next page (same column count); a
    repeated header row is dropped."""
    a, b = first.split("\n"), second.split("\n")
    if a[0].count(" | ") != b[0].count(" | "):
        return None
    rows = b[2:] if b[0] == a[0] or len(b) < 2 else [b[0]] + b[2:]
    return "\n".join(a + rows)


def _continues(prev: str, text: str) -> bool:
    if not _ENDS_OPEN_RE.search(prev):
        return False
    if "\u3400" <= prev[-1] <= "\u9fff" or prev[-1] in "、，（(":
        return bool(_HAN_START_RE.match(text))
    return text[:1].islower()


def _body_size(pages: list[PageLayout]) -> float:
    sizes: Counter[float] = Counter()
    for page in pages:
        for item in page.items:
            if isinstance(item, Line) and not item.mono:
                sizes[item.size] += len(item.text)
    return sizes.most_common(1)[0][0] if sizes else 10.0


def _infer_headings(pages: list[PageLayout], body: float) -> dict[int, int]:
    """``id(line) -> level``: larger fonts rank first; body-size bold lines that form a whole
    short text region are the lowest level. Big-print paragraphs (4+ lines) are not headings."""
    cands: list[tuple[Line, float | None]] = []
    for page in pages:
        regions: dict[int, list[Line]] = defaultdict(list)
        for item in page.items:
            if isinstance(item, Line):
                regions[item.block].append(item)
        for lines in regions.values():
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
            and len(_LETTER_RE.findall(text)) >= 2 and not _BULLET_RE.match(text))


_LETTER_RE = re.compile(r"[^\W\d_]")


def _match_toc(pages: list[PageLayout], toc: list[list]) -> tuple[dict, dict]:
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


def _page_blocks(page: PageLayout, heads: dict[int, int]) -> list[Block]:
    """Group a page's lines into heading/paragraph/list/code/formula blocks."""
    out: list[Block] = []
    run: list[Line] = []
    kind = ""
    for item in page.items:
        if isinstance(item, Table):
            out += _flush(run, kind, page.number, heads)
            run, kind = [], ""
            out.append(Block(kind="table", text=item.markdown, page=page.number))
            continue
        new = _line_kind(item, heads)
        if new == "paragraph" and kind == "list" and item.bbox[0] > run[0].bbox[0] + 1:
            new = "list"  # indented continuation of a list item
        if run and (new != kind or _breaks(run[-1], item, new, heads)):
            out += _flush(run, kind, page.number, heads)
            run = []
        run.append(item)
        kind = new
    return out + _flush(run, kind, page.number, heads)


def _line_kind(line: Line, heads: dict[int, int]) -> str:
    if id(line) in heads:
        return "heading"
    if line.mono:
        return "code"
    if line.math:
        return "formula"
    return "list" if _BULLET_RE.match(line.text) else "paragraph"


def _breaks(prev: Line, line: Line, kind: str, heads: dict[int, int]) -> bool:
    """True when ``line`` starts a new block of the same kind as ``prev``'s."""
    height = max(1.0, prev.bbox[3] - prev.bbox[1])
    gap = line.bbox[1] - prev.bbox[3]
    if kind == "heading":
        return heads[id(line)] != heads[id(prev)] or line.block != prev.block
    if kind in ("code", "formula"):
        return gap > 1.5 * height
    if kind == "list":
        return line.block != prev.block and not _BULLET_RE.match(line.text)
    return line.block != prev.block or gap > 0.7 * height or abs(line.size - prev.size) > 1


def _flush(run: list[Line], kind: str, page: int, heads: dict[int, int]) -> list[Block]:
    if not run:
        return []
    if kind == "code":
        return [Block(kind="code", text=_code_text(run), page=page)]
    if kind == "formula":
        return [Block(kind="formula", text="\n".join(x.text.strip() for x in run), page=page)]
    if kind == "list":
        items: list[list[str]] = []
        for line in run:
            if _BULLET_RE.match(line.text) or not items:
                items.append([])
            items[-1].append(line.text)
        text = "\n".join(_list_item(join_lines(item)) for item in items)
        return [Block(kind="list", text=text, page=page)]
    text = join_lines([x.text for x in run])
    if not text:
        return []
    if kind == "heading":
        return [Block(kind="heading", text=text, page=page, level=heads[id(run[0])])]
    return [Block(kind="paragraph", text=text, page=page)]


def _list_item(text: str) -> str:
    m = _BULLET_RE.match(text)
    if m and not m.group(1)[-1] in ".)":
        return "- " + text[m.end():]
    return text if m else "- " + text


def _code_text(run: list[Line]) -> str:
    """Code lines verbatim; indentation rebuilt from x offsets (monospace advance width)."""
    left = min(x.bbox[0] for x in run)
    widths = [(x.bbox[2] - x.bbox[0]) / len(x.text) for x in run if len(x.text) >= 4]
    advance = sorted(widths)[len(widths) // 2] if widths else 6.0
    out = []
    for i, x in enumerate(run):
        text = x.text.rstrip()
        pad = 0 if text[:1].isspace() else round((x.bbox[0] - left) / max(advance, 1.0))
        height = x.bbox[3] - x.bbox[1]
        if i and x.bbox[1] - run[i - 1].bbox[3] > 0.6 * height:
            out.append("")  # a blank line of the listing
        out.append(" " * pad + text)
    return "\n".join(out)
