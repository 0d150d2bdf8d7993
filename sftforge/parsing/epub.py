"""EPUB books: pymupdf lays the book out into pages and reads them with the PDF page reader
(headings, tables, code, hidden text), then every page number becomes its chapter's location.

A laid-out page number of a reflowable book depends on the page size the reader picked, so it
means nothing to a user; the chapter (the spine item: one XHTML file) is stable. Blocks and the
TOC therefore carry the 1-based chapter number where PDFs carry the page, and the book's own
table of contents (nav / NCX) gives the chapter headings.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import zipfile

import pymupdf

from sftforge.parsing.epub_css import clean_epub
from sftforge.parsing.pdf import pdf_blocks
from sftforge.parsing.pdf_page import read_page
from sftforge.text import Block

# A fixed layout keeps block boundaries (and so chunk ids) stable between pymupdf versions'
# default page sizes: A5-like points, the size of a printed book page.
_LAYOUT = {"width": 420.0, "height": 595.0, "fontsize": 11.0}


class EpubError(ValueError):
    """The file is not a readable EPUB; the message names the file and what to do."""


@dataclass
class EpubBook:
    """What an EPUB yields: blocks and TOC by chapter, title, chapter count, hidden text."""

    blocks: list[Block]
    toc: list[list]
    title: str
    chapters: int
    hidden: list[tuple[int, str, str]]


def open_epub(path: Path) -> tuple[pymupdf.Document, list[tuple[int, str, str]]]:
    """Open and lay out an EPUB without its CSS-hidden text (``epub_css``); raises
    :class:`EpubError` for broken or DRM-locked files. Returns the document and the hidden
    text as (chapter, reason, text)."""
    try:
        data, css_hidden = clean_epub(Path(path).read_bytes())
    except zipfile.BadZipFile:
        data, css_hidden = Path(path).read_bytes(), []  # not a zip: mupdf names the problem
    try:
        doc = pymupdf.open(stream=data, filetype="epub")
    except Exception as exc:  # mupdf raises assorted errors on broken zips and XML
        raise EpubError(f"{path.name}: not a readable EPUB ({str(exc).splitlines()[0][:120]}); "
                        "check the file or export it again.") from exc
    if doc.needs_pass or doc.is_encrypted:
        doc.close()
        raise EpubError(f"{path.name}: the EPUB is encrypted (DRM); add a DRM-free copy.")
    doc.layout(**_LAYOUT)
    return doc, css_hidden


def read_epub(path: Path) -> EpubBook:
    """Blocks of ``path`` with ``page`` = chapter number, its TOC, title and hidden text."""
    doc, css_hidden = open_epub(Path(path))
    try:
        # Not read_pdf: a laid-out book has no running headers or footers, and removing lines
        # that repeat at page edges would cut real text ("Note 10: ...") at page breaks.
        pages = [read_page(page) for page in doc]
        toc = [[int(lv), str(t).strip(), int(p)] for lv, t, p, *_ in doc.get_toc(simple=True)]
        chapter = [doc.location_from_page_number(i)[0] + 1 for i in range(doc.page_count)]
        title, chapters = (doc.metadata or {}).get("title") or "", doc.chapter_count
    finally:
        doc.close()
    blocks, toc = pdf_blocks(pages, toc)
    for b in blocks:
        b["page"] = chapter[b["page"] - 1]
    toc = [[level, text, chapter[page - 1] if 0 < page <= len(chapter) else 1]
           for level, text, page in toc]
    hidden = css_hidden + [(chapter[p.number - 1], reason, text)
                           for p in pages for reason, text in p.hidden]
    return EpubBook(blocks, toc, title, chapters, hidden)
