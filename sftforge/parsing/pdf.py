"""PDF to structural blocks with pymupdf.

``read_pdf(doc)`` then ``pdf_blocks(pages, toc)`` give headings (from the PDF outline when it
has one, else inferred from font sizes and bold lines), paragraphs, lists, code (monospace
lines, verbatim), formulas (math-font lines) and ruled tables as Markdown (the lines a table
took are cut out of the running text), each with its 1-based page, in reading order (XY-cut, so columns are
read one after the other). Running headers, footers and page numbers are removed; paragraphs,
tables and listings cut by a page break are joined again.
Quarantine decisions (encrypted, corrupt, image-only, garbled) live in ``tasks/ingest.py``.

Modules: ``pdf_page`` (lines and their fonts, in reading order via ``reading_order``),
``pdf_tables`` (ruled tables as Markdown) over ``pdf_rules`` (vector rules, grid regions) and
``pdf_grid`` (cells, merged cells, nested tables), ``pdf_running_lines`` (headers/footers),
``pdf_headings`` (outline or inferred headings), ``pdf_blocks`` (blocks), ``pdf_ocr`` (pages
without a usable text layer OCR'd, see docs/ocr.md). The names below are
the public API.
"""

from __future__ import annotations

import pymupdf

from sftforge.parsing.pdf_blocks import build_blocks
from sftforge.parsing.pdf_ocr import PageOcr, Report, ocr_pages
from sftforge.parsing.pdf_page import Line, PageLayout, read_page
from sftforge.parsing.pdf_running_lines import drop_running_lines
from sftforge.parsing.pdf_tables import Table, find_tables, table_markdown
from sftforge.parsing.reading_order import reading_order
from sftforge.settings import OcrSettings
from sftforge.text import Block

__all__ = ["Line", "PageLayout", "Table", "build_blocks", "drop_running_lines", "find_tables",
           "pdf_blocks", "read_page", "read_pdf", "read_pdf_ocr", "reading_order",
           "table_markdown"]

pymupdf.TOOLS.mupdf_display_errors(False)  # broken files are reported as quarantine reasons


def read_pdf(doc: pymupdf.Document, ocr: OcrSettings | None = None,
             report: Report | None = None) -> tuple[list[PageLayout], list[list]]:
    """Pages of an open PDF in reading order, running headers/footers removed, and its outline
    as ``[level, title, page]``. With ``ocr`` (enabled), pages without a usable text layer are
    OCR'd first (``pdf_ocr``); what was OCR'd is returned by ``read_pdf_ocr``."""
    return read_pdf_ocr(doc, ocr, report)[:2]


def read_pdf_ocr(doc: pymupdf.Document, ocr: OcrSettings | None = None,
                 report: Report | None = None
                 ) -> tuple[list[PageLayout], list[list], list[PageOcr]]:
    """``read_pdf`` plus one ``PageOcr`` per OCR'd page (``report`` counts them)."""
    pages = [read_page(page) for page in doc]
    done = ocr_pages(doc, pages, ocr, report) if ocr is not None else []
    drop_running_lines(pages)
    toc = [[int(lv), str(t).strip(), int(p)] for lv, t, p, *_ in doc.get_toc(simple=True)]
    return pages, toc, done


def pdf_blocks(pages: list[PageLayout], toc: list[list]) -> tuple[list[Block], list[list]]:
    """Blocks of the pages and the TOC: the PDF outline when it has 2+ entries, else the
    inferred headings."""
    blocks = build_blocks(pages, toc if len(toc) >= 2 else None)
    if len(toc) < 2:
        toc = [[b["level"], b["text"], b["page"]] for b in blocks if b["kind"] == "heading"]
    return blocks, toc
