"""A source passage as a reviewer reads it: Markdown rendered to HTML, cited spans marked.

Input: a chunk's text (Markdown: headings, tables, code blocks) and a sample's citations
[{quote, start, end}] whose offsets index that text (``sftforge.grounding.citations``:
``chunk_text[start:end]`` is the quoted passage). Output: an HTML fragment safe to put in the
page.

Documents are hostile: raw HTML in the text is escaped (markdown-it's ``html`` option off),
links and images are not rendered (no request leaves the page, no ``javascript:`` URL), and
the two private-use characters that mark cited spans are replaced in the text first.
"""

from __future__ import annotations

import re
from typing import Any

from markdown_it import MarkdownIt

_OPEN, _CLOSE = "\ue000", "\ue001"  # cited-span markers, replaced by <mark> after rendering
_MD = (MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
       .enable("table").disable(["link", "image", "autolink"]))


def _spans(text: str, citations: list[dict[str, Any]]) -> list[tuple[int, int]]:
    """Cited spans of ``text``, merged where they overlap (quotes not found, start -1, left
    out: the page lists them apart)."""
    spans = sorted((c["start"], c["end"]) for c in citations
                   if isinstance(c.get("start"), int) and isinstance(c.get("end"), int)
                   and 0 <= c["start"] < c["end"] <= len(text))
    merged: list[tuple[int, int]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


_PREFIX = re.compile(r"[ \t]*(?:(?:#{1,6}|>|[-*+]|\d+[.)])[ \t]+)*")
_NO_MARK = re.compile(r"\s*(?:```|~~~|[|:\- \t]+$)")  # fences and table delimiter rows


def _marked_span(seg: str, at_line_start: bool) -> str:
    """One cited span marked line by line: each mark starts after the line's Markdown syntax
    (heading, quote, list marker) and is cut at table pipes, so no block or cell is broken;
    code fences and table delimiter rows stay as they are."""
    out = []
    for i, line in enumerate(seg.split("\n")):
        prefix = _PREFIX.match(line).group(0) if (i or at_line_start) else ""
        body = line[len(prefix):]
        if not body.strip() or _NO_MARK.match(line):
            out.append(line)
            continue
        out.append(prefix + _OPEN + body.replace("|", _CLOSE + "|" + _OPEN) + _CLOSE)
    return "\n".join(out)


def _marked(text: str, spans: list[tuple[int, int]]) -> str:
    """``text`` with markers around each cited span (see :func:`_marked_span`)."""
    out, pos = [], 0
    for start, end in spans:
        out.append(text[pos:start])
        out.append(_marked_span(text[start:end], start == 0 or text[start - 1] == "\n"))
        pos = end
    out.append(text[pos:])
    return "".join(out)


def passage_html(text: str, citations: list[dict[str, Any]]) -> str:
    """The passage as safe HTML with ``<mark>`` on cited spans (see the module docstring)."""
    # a marker character planted in the document becomes U+FFFD: same length, offsets hold
    safe = (text or "").replace(_OPEN, "\ufffd").replace(_CLOSE, "\ufffd")
    html = _MD.render(_marked(safe, _spans(safe, citations)))
    html = html.replace(_OPEN + _CLOSE, "")
    return html.replace(_OPEN, "<mark>").replace(_CLOSE, "</mark>")
