"""Text a reader of the rendered page cannot see, taken out of a page's text pass.

``drop_hidden_spans(page, blocks, rect) -> list[(reason, text)]`` removes such spans from the
``TextPage.extractDICT`` blocks in place (lines keep their places: tables name lines by index)
and returns what it removed. Reasons:

- ``tiny``: font size under 1 pt;
- ``invisible``: alpha 0, i.e. render mode 3 or a fully transparent fill; kept when an image lies
  under it, as that is the text layer of a scanned page (OCR);
- ``off_page``: the span lies wholly outside the page's visible box (mupdf's text pass already
  leaves most such text out; it is counted from the paint log on pages that read it);
- ``background_colour``: its colour is (nearly) that of what lies under it: a filled shape
  painted before it, or the white page;
- ``low_contrast``: not the same colour, but too close to read: a contrast ratio (WCAG) under
  :data:`MIN_CONTRAST` against what lies under it (light grey #e0e0e0 on white is 1.3; a grey
  caption #999999 is 2.8 and stays);
- ``squeezed``: horizontally scaled (``Tz``) or spaced so tight no glyph can be told apart:
  under :data:`MIN_ASPECT` of the line height per character (Helvetica prose is ~0.34, a lone
  "i" 0.16; 10 % scaling makes prose 0.034 and CJK 0.083);
- ``clipped``: painted outside the clip path in force (``W n``); the text pass is run with
  ``TEXT_CLIP`` so mupdf leaves it out, and :func:`clipped_spans` names it by comparing with a
  pass without the clip (only on pages whose content stream sets a clip);
- ``covered``: an opaque filled shape or image painted after it covers it.

Cost: the per-span checks are a few comparisons; the paint order (``Page.get_bboxlog``, ~0.5 ms
a page) is read only for pages whose content stream fills shapes or draws images/forms, and the
shapes' colours (``Page.get_drawings``) only when a filled shape lies under or over text.
"""

from __future__ import annotations

from typing import Any

import pymupdf

MIN_SIZE = 1.0  # pt
NEAR = 24  # max difference per RGB channel (0-255) for two colours to look the same
MIN_CONTRAST = 1.5  # WCAG contrast ratio under which text cannot be read (AA asks for 4.5)
MIN_ASPECT = 0.1  # width per character / line height under which glyphs cannot be told apart
WHITE = 0xFFFFFF
# Content-stream operators that fill a path, paint a shading or draw an image/form.
_FILL_OPS = frozenset({b"f", b"f*", b"F", b"B", b"B*", b"b", b"b*", b"Do", b"sh"})
_LIGHT = 0xFF - NEAR  # every channel at least this: near white

Box = tuple[float, float, float, float]


def drop_hidden_spans(page: pymupdf.Page, blocks: list[dict], rect: Any) -> list[tuple[str, str]]:
    """Remove the hidden spans of ``blocks`` (dict mode) in place; returns (reason, text) each."""
    paint = _Paint(page) if _fills_something(page) else None
    box = tuple(rect)
    found = [("off_page", t) for t in paint.off_page(box)] if paint else []
    for blk in blocks:
        for line in blk.get("lines", ()):
            spans = line["spans"]
            keep = []
            for s in spans:
                reason = _reason(s, box, paint)
                if reason is None:
                    keep.append(s)
                elif s["text"].strip():
                    found.append((reason, s["text"].strip()))
            if len(keep) != len(spans):
                line["spans"] = keep
    return found


def _reason(span: dict, box: tuple, paint: _Paint | None) -> str | None:
    """Why ``span`` cannot be seen, or None."""
    if span["size"] < MIN_SIZE:
        return "tiny"
    b = span["bbox"]
    if b[2] <= box[0] or b[0] >= box[2] or b[3] <= box[1] or b[1] >= box[3]:
        return "off_page"
    if paint is not None:
        return paint.reason(span)
    if span.get("alpha", 255) == 0:
        return "invisible"
    return _colour_reason(span["color"], WHITE) or _squeezed(span)


def _near_white(color: int) -> bool:
    return (color >> 16) >= _LIGHT and (color >> 8 & 0xFF) >= _LIGHT and (color & 0xFF) >= _LIGHT


def _rgb(color: int) -> tuple[int, int, int]:
    return color >> 16, color >> 8 & 0xFF, color & 0xFF


def _luminance(rgb: tuple[int, ...]) -> float:
    """WCAG relative luminance of an sRGB colour (0-255 channels)."""
    def lin(c: int) -> float:
        v = c / 255
        return v / 12.92 if v <= 0.04045 else ((v + 0.055) / 1.055) ** 2.4
    r, g, b = (lin(c) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: tuple[int, ...], b: tuple[int, ...]) -> float:
    """WCAG contrast ratio of two colours, 1 (same) to 21 (black on white)."""
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def _colour_reason(text: int, background: int) -> str | None:
    """``background_colour`` (the same colour), ``low_contrast`` (too close to read) or None."""
    t, bg = _rgb(text), _rgb(background)
    if all(abs(a - c) <= NEAR for a, c in zip(t, bg)):
        return "background_colour"
    return "low_contrast" if contrast(t, bg) < MIN_CONTRAST else None


def _squeezed(span: dict) -> str | None:
    """``squeezed`` when the span's characters are too narrow to read (see MIN_ASPECT)."""
    x0, y0, x1, y1 = span["bbox"]
    n = len(span["text"])
    if n < 3 or y1 - y0 <= 0:
        return None  # a lone narrow glyph ("l", ".") is no evidence
    return "squeezed" if (x1 - x0) / (n * (y1 - y0)) < MIN_ASPECT else None


def clipped_spans(page: pymupdf.Page, kept: list[dict], flags: int) -> list[tuple[str, str]]:
    """("clipped", text) of spans a pass without ``TEXT_CLIP`` finds and ``kept`` (the blocks
    of the clipped pass) lacks; [] (no second pass) when the page sets no clip path."""
    try:
        tokens = page.read_contents().split()
    except Exception:
        tokens = [b"W"]  # unreadable content: compare anyway
    if b"W" not in tokens and b"W*" not in tokens:
        return []
    seen: dict[str, int] = {}
    for text in _span_texts(kept):
        seen[text] = seen.get(text, 0) + 1
    out = []
    full = page.get_textpage(flags=flags & ~pymupdf.TEXT_CLIP).extractDICT()["blocks"]
    for text in _span_texts(full):
        if seen.get(text, 0) > 0:
            seen[text] -= 1
        else:
            out.append(("clipped", text))
    return out


def _span_texts(blocks: list[dict]) -> list[str]:
    return [s["text"].strip() for b in blocks for ln in b.get("lines", ()) for s in ln["spans"]
            if s["text"].strip()]


def _fills_something(page: pymupdf.Page) -> bool:
    """True when the content stream fills a path, paints a shading or draws an image/form."""
    try:
        # whitespace-separated tokens: bytes.split beats a regex scan ~2x here
        return not _FILL_OPS.isdisjoint(page.read_contents().split())
    except Exception:  # unreadable content: let the paint log decide
        return True


def _contains(outer: Box, inner: Box, tol: float = 1.0) -> bool:
    return (outer[0] <= inner[0] + tol and outer[1] <= inner[1] + tol
            and outer[2] >= inner[2] - tol and outer[3] >= inner[3] - tol)


def _overlap(a: Box, b: Box) -> float:
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    return w * h if w > 0 and h > 0 else 0.0


class _Paint:
    """The page's paint order: text, filled shapes and images, by sequence number."""

    def __init__(self, page: pymupdf.Page) -> None:
        self.page = page
        self.texts: list[tuple[int, Box]] = []
        self.fills: list[tuple[int, str, Box]] = []
        for seq, (kind, r) in enumerate(page.get_bboxlog()):
            if kind.endswith("-text"):
                self.texts.append((seq, r))
            elif kind in ("fill-path", "fill-image", "fill-shade") and (
                    r[2] - r[0] >= 2 and r[3] - r[1] >= 2):  # rules are too thin to hide text
                self.fills.append((seq, kind, r))
        self._drawings: dict[int, dict] | None = None
        self._soft_images: list[Box] | None = None

    def off_page(self, box: Box) -> list[str]:
        """Text painted wholly outside ``box``, which the text pass never returns."""
        out = []
        for _, r in self.texts:
            if r[2] <= box[0] or r[0] >= box[2] or r[3] <= box[1] or r[1] >= box[3]:
                text = self.page.get_textpage(clip=pymupdf.Rect(r), flags=0).extractText()
                out += [t.strip() for t in text.splitlines() if t.strip()]
        return out

    def reason(self, span: dict) -> str | None:
        """Hidden reason of ``span`` judged against what is painted under and over it."""
        b = span["bbox"]
        around = [f for f in self.fills if _contains(f[2], b)]
        seq = self._seq_of(b) if around else -1
        under = [f for f in around if f[0] < seq]
        if any(f[0] > seq and self._opaque(f) for f in around):
            return "covered"
        if span.get("alpha", 255) == 0:
            return None if any(f[1] == "fill-image" for f in under) else "invisible"
        if not under:
            return _colour_reason(span["color"], WHITE) or _squeezed(span)
        return self._against_fill(span["color"], under[-1]) or _squeezed(span)

    def _seq_of(self, b: Box) -> int:
        """Sequence number of the text painting that overlaps ``b`` most."""
        best, seq = 0.0, -1
        for s, r in self.texts:
            o = _overlap(r, b)
            if o > best:
                best, seq = o, s
        return seq

    def _opaque(self, fill: tuple[int, str, Box]) -> bool:
        seq, kind, r = fill
        if kind == "fill-image":
            return not any(_overlap(r, s) > 0 for s in self._soft())
        d = self._drawing(seq)
        return d is not None and (d.get("fill_opacity") or 0) >= 0.95

    def _against_fill(self, color: int, fill: tuple[int, str, Box]) -> str | None:
        """The colour reason of text of ``color`` over ``fill`` (see ``_colour_reason``)."""
        if fill[1] != "fill-path":
            return None  # an image or shading under text: no single colour to compare
        d = self._drawing(fill[0])
        if d is None or not d.get("fill") or (d.get("fill_opacity") or 0) < 0.95:
            return None
        r, g, b = (round(c * 255) for c in d["fill"][:3])
        return _colour_reason(color, r << 16 | g << 8 | b)

    def _drawing(self, seq: int) -> dict | None:
        if self._drawings is None:
            self._drawings = {d["seqno"]: d for d in self.page.get_drawings()}
        return self._drawings.get(seq)

    def _soft(self) -> list[Box]:
        """Boxes of images with a soft mask (transparent parts): they need not hide text."""
        if self._soft_images is None:
            soft = {x[0] for x in self.page.get_images(full=True) if x[1]}
            self._soft_images = [tuple(i["bbox"]) for i in self.page.get_image_info(xrefs=True)
                                 if i.get("xref") in soft]
        return self._soft_images
