"""Text an EPUB's CSS hides, taken out of the XHTML before the book is laid out.

mupdf lays out ``display:none``, ``visibility:hidden`` and ``font-size:0px`` as a reader would
(nothing), but it ignores ``opacity``, unitless ``font-size:0``, transforms and clips, and places
negatively indented or positioned text where the page reader may not see it leave the page. So
elements whose style hides them are removed from every chapter first, and their text is
returned as hidden with a reason:

- ``tiny``: ``font-size`` 0 (any unit) or under 1 px / 0.1 em; ``transform: scale(0)``;
- ``invisible``: ``opacity`` under 0.1, ``display:none``, ``visibility:hidden``,
  ``color: transparent``;
- ``off_page``: ``text-indent``, ``left``, ``top``, ``right``, ``margin-left``/``-top`` at or
  beyond -500 px (or -50 em / -100 %): a reader's screen is never that wide;
- ``clipped``: ``clip: rect(0 0 0 0)`` / ``clip-path: inset(50%)`` or more, or ``height`` /
  ``width`` 0 with ``overflow:hidden``.

Styles come from ``style`` attributes and from simple rules (``.class``, ``#id``, ``tag.class``,
``tag``) in ``<style>`` elements and the book's ``.css`` files; other selectors are ignored
(a miss, never a false drop). A scan of tags with a stack: XHTML in an EPUB is well-formed XML.
"""

from __future__ import annotations

import html
import re
from typing import Any

_DECL = re.compile(r"([a-z-]+)\s*:\s*([^;]+)", re.I)
_LEN = re.compile(r"^\s*(-?\d*\.?\d+)\s*([a-z%]*)", re.I)
_RULE = re.compile(r"([^{}]+)\{([^{}]*)\}")
_TAG = re.compile(r"<(/?)([A-Za-z][\w:.-]*)((?:[^>\"']|\"[^\"]*\"|'[^']*')*?)(/?)>")
_ATTR = re.compile(r"""([\w:-]+)\s*=\s*("[^"]*"|'[^']*')""")
_COMMENT = re.compile(r"<!--.*?-->", re.S)
_VOID = frozenset({"br", "img", "hr", "meta", "link", "input", "col", "area", "base", "wbr"})
_FAR = {"px": 500.0, "pt": 375.0, "em": 50.0, "rem": 50.0, "%": 100.0, "": 500.0}
_OFFSETS = ("text-indent", "left", "top", "right", "margin-left", "margin-top")


def _length(value: str) -> tuple[float, str] | None:
    m = _LEN.match(value)
    return (float(m.group(1)), m.group(2).lower()) if m else None


def style_reason(style: str) -> str | None:
    """Why text with the CSS declarations ``style`` cannot be seen, or None."""
    decls = {k.lower(): v.strip().lower().replace("!important", "").strip()
             for k, v in _DECL.findall(style)}
    if decls.get("display") == "none" or decls.get("visibility") in ("hidden", "collapse"):
        return "invisible"
    if (op := _length(decls.get("opacity", ""))) and op[0] < 0.1:
        return "invisible"
    if decls.get("color") == "transparent":
        return "invisible"
    if (fs := _length(decls.get("font-size", ""))) and (
            fs[0] <= 0 or fs[0] < {"em": 0.1, "rem": 0.1, "%": 10.0}.get(fs[1], 1.0)):
        return "tiny"
    if re.search(r"scale[xy]?\(\s*0(\.0+)?\s*[,)]", decls.get("transform", "")):
        return "tiny"
    for key in _OFFSETS:
        if (off := _length(decls.get(key, ""))) and off[0] <= -_FAR.get(off[1], 500.0):
            return "off_page"
    return _clip_reason(decls)


def _clip_reason(decls: dict[str, str]) -> str | None:
    if re.fullmatch(r"rect\(\s*0\w*[\s,]+0\w*[\s,]+0\w*[\s,]+0\w*\s*\)", decls.get("clip", "")):
        return "clipped"
    if (m := re.fullmatch(r"inset\(\s*(\d+)%.*", decls.get("clip-path", ""))) and int(m[1]) >= 50:
        return "clipped"
    zero = any((d := _length(decls.get(k, ""))) and d[0] == 0 for k in ("height", "width"))
    return "clipped" if zero and decls.get("overflow") in ("hidden", "clip") else None


def css_rules(css: str) -> dict[str, str]:
    """Simple selector (``.c``, ``#i``, ``p.c``, ``p``) -> hidden reason, from a stylesheet."""
    out: dict[str, str] = {}
    for selectors, body in _RULE.findall(re.sub(r"/\*.*?\*/", "", css, flags=re.S)):
        reason = style_reason(body)
        if reason:
            for sel in selectors.split(","):
                sel = sel.strip().lower()
                if re.fullmatch(r"[a-z][\w-]*|[a-z]*[.#][\w-]+", sel):
                    out[sel] = reason
    return out


def _element_reason(tag: str, attrs: str, rules: dict[str, str]) -> str | None:
    found = {k.lower(): html.unescape(v[1:-1]) for k, v in _ATTR.findall(attrs)}
    if reason := style_reason(found.get("style", "")):
        return reason
    tag = tag.lower().split(":")[-1]
    keys = [tag] + ([f"#{found['id'].lower()}"] if "id" in found else [])
    for cls in found.get("class", "").lower().split():
        keys += [f".{cls}", f"{tag}.{cls}"]
    return next((rules[k] for k in keys if k in rules), None)


def strip_hidden(xhtml: str, rules: dict[str, str]) -> tuple[str, list[tuple[str, str]]]:
    """``xhtml`` without the elements its styles hide; returns (text, [(reason, hidden text)])."""
    xhtml = _COMMENT.sub("", xhtml)
    rules = {**rules, **css_rules(" ".join(re.findall(r"<style[^>]*>(.*?)</style>", xhtml,
                                                        flags=re.S | re.I)))}
    out, hidden, pos = [], [], 0
    stack: list[str] = []
    cut: tuple[int, int, str] | None = None  # (start offset, stack depth, reason)
    for m in _TAG.finditer(xhtml):
        closing, tag, attrs, selfclose = m.group(1), m.group(2).lower(), m.group(3), m.group(4)
        if closing:
            while stack and stack.pop() != tag:
                pass
            if cut and len(stack) == cut[1]:
                text = re.sub(r"<[^>]+>", " ", xhtml[cut[0]:m.end()])
                hidden.append((cut[2], " ".join(html.unescape(text).split())))
                pos, cut = m.end(), None
            continue
        if cut is None and tag not in ("html", "head", "body", "style"):
            reason = _element_reason(tag, attrs, rules)
            if reason:
                out.append(xhtml[pos:m.start()])
                if selfclose or tag in _VOID:
                    pos = m.end()
                    continue
                cut = (m.start(), len(stack), reason)
        if not selfclose and tag not in _VOID:
            stack.append(tag)
    out.append(xhtml[pos:] if cut is None else "")
    return "".join(out), [h for h in hidden if h[1]]


def spine(src: Any) -> list[str]:
    """Zip paths of the book's chapters in reading order (container.xml -> OPF spine)."""
    import posixpath

    names = set(src.namelist())
    container = src.read("META-INF/container.xml").decode("utf-8", "replace") if (
        "META-INF/container.xml" in names) else ""
    found = re.search(r'full-path\s*=\s*"([^"]+)"', container)
    if not found or found.group(1) not in names:
        return []  # no spine to read: hidden text is reported under chapter 1
    opf_path = found.group(1)
    opf = src.read(opf_path).decode("utf-8", "replace")
    hrefs = {}
    for item in re.findall(r"<(?:\w+:)?item\b[^>]*>", opf):
        attrs = {k: v[1:-1] for k, v in _ATTR.findall(item)}
        if "id" in attrs and "href" in attrs:
            hrefs[attrs["id"]] = posixpath.normpath(
                posixpath.join(posixpath.dirname(opf_path), html.unescape(attrs["href"])))
    return [hrefs[i] for i in re.findall(r"<(?:\w+:)?itemref\b[^>]*idref\s*=\s*\"([^\"]+)\"", opf)
            if i in hrefs]


def clean_epub(data: bytes) -> tuple[bytes, list[tuple[int, str, str]]]:
    """The EPUB ``data`` with CSS-hidden elements removed from every (X)HTML file; returns the
    new bytes and (chapter, reason, hidden text) of what was removed (chapter: 1-based
    position in the spine)."""
    import io
    import zipfile

    src = zipfile.ZipFile(io.BytesIO(data))
    names = src.namelist()
    rules: dict[str, str] = {}
    for name in names:
        if name.lower().endswith(".css"):
            rules.update(css_rules(src.read(name).decode("utf-8", "replace")))
    buf, found = io.BytesIO(), {}
    with zipfile.ZipFile(buf, "w") as out:
        for info in src.infolist():
            raw = src.read(info.filename)
            if re.search(r"\.x?html?$", info.filename, re.I):
                text, hidden = strip_hidden(raw.decode("utf-8", "replace"), rules)
                if hidden:
                    found[info.filename] = hidden
                    raw = text.encode("utf-8")
            out.writestr(info, raw)
    order = {name: n for n, name in enumerate(spine(src), 1)}
    return buf.getvalue(), [(order.get(name, 1), reason, text)
                            for name, spans in found.items() for reason, text in spans]
