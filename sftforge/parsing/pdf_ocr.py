"""Which pages of a PDF are OCR'd, and their OCR'd lines in place of the text layer.

``ocr_pages(doc, pages, settings, report)`` takes the ``PageLayout`` list of ``read_pdf``
(before running headers are removed, so OCR'd page numbers and headers go the same way) and,
per page: a page with a good text layer is left as it is; a page whose text layer is empty
while it shows an image (a scan) or fails the garbling check (``sftforge.text.garbled_share``,
the check ingest applies) is rendered and OCR'd (``sftforge.parsing.ocr``), its ``items``
replaced by the OCR'd lines grouped into regions. A page read with a mean confidence under
``settings.min_confidence`` keeps no text. Returns one ``PageOcr`` per OCR'd page.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import pymupdf

from sftforge.parsing.ocr import ocr_page
from sftforge.parsing.pdf_page import Line, PageLayout
from sftforge.parsing.reading_order import reading_order
from sftforge.settings import OcrSettings
from sftforge.text import count_nonspace

MIN_PAGE_CHARS = 40  # as ingest: fewer non-space characters and the page carries no real text
GARBLED = 0.3  # as ingest: this share of broken characters makes a text layer unusable

Report = Callable[[str, int], None]  # ("pages", n to OCR) then ("page", 1) per page done


@dataclass
class PageOcr:
    """One OCR'd page: why it was OCR'd ("no text layer" / "garbled text layer"), its mean
    confidence, and whether it was kept (confidence at or over the threshold)."""

    page: int  # 1-based
    why: str
    confidence: float
    kept: bool


def needs_ocr(page: PageLayout) -> str:
    """Why ``page`` needs OCR ("" when its text layer is good or it is blank)."""
    text = page.text()
    n = count_nonspace(text)
    if n < MIN_PAGE_CHARS:
        return "no text layer" if page.has_images else ""
    return "garbled text layer" if page.garbled() >= GARBLED else ""


def ocr_pages(doc: pymupdf.Document, pages: list[PageLayout], settings: OcrSettings,
              report: Report | None = None) -> list[PageOcr]:
    """OCR the pages that need it (see module doc), in place; one ``PageOcr`` per page done."""
    todo = [(p, why) for p in pages if (why := needs_ocr(p))]
    if not todo or not settings.enabled:
        return []
    if report:
        report("pages", len(todo))
    out = []
    for layout, why in todo:
        read = ocr_page(doc[layout.number - 1], settings.dpi)
        kept = bool(read.lines) and read.confidence >= settings.min_confidence
        layout.items = _regions(read.lines) if kept else []
        layout.has_images = True
        out.append(PageOcr(layout.number, why, round(read.confidence, 4), kept))
        if report:
            report("page", 1)
    return out


def _regions(lines: list[Line]) -> list[Line]:
    """``lines`` grouped into text regions (a line joins the region above it when it starts
    near its left edge and follows within 1.5 line heights) and put in reading order."""
    lines = sorted(lines, key=lambda ln: (ln.bbox[1], ln.bbox[0]))
    _even_sizes(lines)
    groups: list[list[Line]] = []
    for ln in lines:
        home = next((g for g in reversed(groups) if _follows(g[-1], ln)), None)
        if home is None:
            groups.append([ln])
        else:
            home.append(ln)
    boxes = [(min(ln.bbox[0] for ln in g), min(ln.bbox[1] for ln in g),
              max(ln.bbox[2] for ln in g), max(ln.bbox[3] for ln in g)) for g in groups]
    out: list[Line] = []
    for region, gi in enumerate(reading_order(boxes)):
        for ln in groups[gi]:
            ln.block = region
            out.append(ln)
    return out


def _even_sizes(lines: list[Line]) -> None:
    """Give lines within 20% of the page's median size that size: a box is taller when the
    line has capitals or descenders, which must not read as a larger font (a heading); a
    line 20% taller than the median keeps its size (a heading, found by ``pdf_headings``)."""
    sizes = sorted(ln.size for ln in lines)
    median = sizes[(len(sizes) - 1) // 2] if sizes else 0.0  # the lower one: few lines, a heading
    for ln in lines:
        if ln.size < 1.2 * median:
            ln.size = median


def _follows(prev: Line, line: Line) -> bool:
    """True when ``line`` continues the text region whose last line is ``prev``."""
    height = max(1.0, prev.bbox[3] - prev.bbox[1])
    gap = line.bbox[1] - prev.bbox[3]
    same_size = abs(line.size - prev.size) <= 1.0
    return -0.3 * height <= gap <= 1.5 * height and abs(line.bbox[0] - prev.bbox[0]) < 3 * height \
        and same_size
