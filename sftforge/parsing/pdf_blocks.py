"""PDF pages to structural blocks: headings, paragraphs, lists, code (verbatim, indentation
rebuilt), formulas and tables, each with its 1-based page.

``build_blocks(pages, toc)`` groups each page's lines into blocks, then tidies the sequence:
symbol-only paragraphs dropped, paragraphs, tables and listings cut by a page break joined,
diagram labels that look like headings demoted (slides).
"""

from __future__ import annotations

import re

from sftforge.parsing.pdf_footnotes import split_footnotes
from sftforge.parsing.pdf_headings import body_size, infer_headings, match_toc
from sftforge.parsing.pdf_page import BULLET_RE, Line, PageLayout
from sftforge.parsing.pdf_tables import Table
from sftforge.text import Block, join_lines


def build_blocks(pages: list[PageLayout], toc: list[list] | None) -> list[Block]:
    """Blocks of all pages: headings from ``toc`` entries matched on their page (entries not
    found are inserted at the top of the page), else headings inferred from font sizes."""
    body = body_size(pages)
    if toc:
        heads, inserts = match_toc(pages, toc)
    else:
        heads, inserts = infer_headings(pages, body), {}
    blocks: list[Block] = []
    for page in pages:
        notes = split_footnotes(page, body)
        blocks += inserts.get(page.number, [])
        blocks += _page_blocks(page, heads)
        # Footnotes close their page; _tidy joins a sentence across them (marked until then).
        note_page = PageLayout(page.number, page.height, list(notes), False)
        blocks += [{**b, "_note": True} for b in _page_blocks(note_page, heads)]
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
        if b["kind"] != "code" and not b["text"].isascii() and _PUA_RE.search(b["text"]):
            b["text"] = _PUA_RE.sub("", b["text"]).strip()
        if b["kind"] in ("paragraph", "heading") and len(b["text"]) < 8 and len(
                _ALNUM_RE.findall(b["text"])) < 2:
            continue
        at = len(out) - 1
        while at >= 0 and out[at].get("_note") and not b.get("_note"):
            at -= 1  # a sentence cut by a page break goes on after the page's footnotes
        prev = out[at] if at >= 0 else None
        if prev and prev["kind"] == b["kind"] and prev.get("_note") == b.get("_note"):
            joined = _join_cut(prev, b, b["page"] == last_page + 1)
            if joined is not None:
                prev["text"] = joined
                last_page = b["page"]
                continue
        out.append(b)
        last_page = b["page"]
    for b in out:
        b.pop("_note", None)
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
    # the pattern ends in "$": searching the whole paragraph would scan all of it
    if not _ENDS_OPEN_RE.search(prev[-2:]):
        return False
    if "\u3400" <= prev[-1] <= "\u9fff" or prev[-1] in "、，（(":
        return bool(_HAN_START_RE.match(text))
    return text[:1].islower()



def _page_blocks(page: PageLayout, heads: dict[int, int]) -> list[Block]:
    """Group a page's lines into heading/paragraph/list/code/formula blocks."""
    out: list[Block] = []
    run: list[Line] = []
    kind = ""
    for item in page.items:
        if type(item) is Table:
            out += _flush(run, kind, page.number, heads)
            run, kind = [], ""
            out.append(Block(kind="table", text=item.markdown, page=page.number))
            continue
        # _line_kind, inlined: this loop runs for every line of the document
        if id(item) in heads:
            new = "heading"
        elif item.mono:
            new = "code"
        elif item.math:
            new = "formula"
        else:
            new = "list" if BULLET_RE.match(item.text) else "paragraph"
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
    return "list" if BULLET_RE.match(line.text) else "paragraph"


def _breaks(prev: Line, line: Line, kind: str, heads: dict[int, int]) -> bool:
    """True when ``line`` starts a new block of the same kind as ``prev``'s."""
    if kind == "heading":
        return heads[id(line)] != heads[id(prev)] or line.block != prev.block
    if kind == "list":
        return line.block != prev.block and not BULLET_RE.match(line.text)
    if kind == "paragraph" and (line.block != prev.block or abs(line.size - prev.size) > 1):
        return True
    y0, y1 = prev.bbox[1], prev.bbox[3]
    height = y1 - y0 if y1 - y0 > 1.0 else 1.0
    return line.bbox[1] - y1 > (0.7 if kind == "paragraph" else 1.5) * height


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
            if BULLET_RE.match(line.text) or not items:
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
    m = BULLET_RE.match(text)
    if m and m.group(1)[-1] not in ".)":
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
