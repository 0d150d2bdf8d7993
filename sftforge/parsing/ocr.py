"""OCR of one PDF page without a usable text layer: offline, on CPU, Chinese and English.

``ocr_page(page, dpi)`` renders the page, runs RapidOCR (PP-OCRv4 detection + recognition
models shipped inside the ``rapidocr-onnxruntime`` wheel, on onnxruntime) and returns an
``OcrPage``: ``Line`` objects in PDF points (so ``pdf_blocks`` joins, orders and finds headings
in them exactly as in text-layer pages) and the mean recognition confidence, weighted by
characters. The engine is loaded once per process (a few seconds) and reused.

Spacing: the recogniser often runs English words together ("withoutpropervalidation"). Where
a Latin line came back with too few spaces, they are put back from the geometry the
recogniser reports per character (a word gap is a larger distance between two characters
than their advance widths explain), see ``restore_spaces``. Engine choice and figures: docs/ocr.md.
"""

from __future__ import annotations

import functools
import os
import re
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np
import pymupdf

from sftforge.parsing.pdf_page import Line

_engine: Any = None
_engine_lock = threading.Lock()
_LATIN = re.compile(r"[A-Za-z]")
# An OCR'd line has no font to tell code by: these shapes stand in for a monospace font
# (a statement end, an assignment, a tag, a call with an argument)
_CODE_RE = re.compile(r"[;{}]\s*$|\w\s*\+?=\s*[\"'\w(]|</?[A-Za-z]+[\s>]|[A-Za-z_]\((?!e?s\))[\"'a-z0-9_]")
_GAP_EM = 0.18  # extra distance (em) between two characters that makes a word gap (bench/ocr.py)


@dataclass
class OcrPage:
    """What OCR read on one page: its lines (PDF points) and the mean confidence (0-1)."""

    lines: list[Line]
    confidence: float
    n_chars: int


def engine() -> Any:
    """The process-wide RapidOCR engine (built on first use: loading takes a few seconds)."""
    global _engine
    with _engine_lock:
        if _engine is None:
            try:
                from rapidocr_onnxruntime import RapidOCR
            except ImportError as exc:
                raise RuntimeError("the OCR engine is not installed: pip install --no-deps "
                                   "rapidocr-onnxruntime==1.4.4 (see docs/ocr.md), or turn OCR "
                                   "off with SFTFORGE_OCR__ENABLED=false") from exc

            threads = int(os.environ.get("SFTFORGE_OCR_THREADS", "0")) or min(4, os.cpu_count() or 1)
            # the page is rendered at the wanted dpi already: no downscaling to 2000 px; the
            # angle classifier is off (it flips clean horizontal lines it is unsure about)
            _engine = RapidOCR(max_side_len=6000, use_cls=False, intra_op_num_threads=threads,
                               inter_op_num_threads=1)
        return _engine


def render(page: pymupdf.Page, dpi: int) -> np.ndarray:
    """``page`` as an RGB array at ``dpi``."""
    pix = page.get_pixmap(dpi=dpi, alpha=False, colorspace=pymupdf.csRGB)
    return np.frombuffer(pix.samples, dtype=np.uint8).reshape(pix.h, pix.w, pix.n).copy()


def ocr_page(page: pymupdf.Page, dpi: int = 200) -> OcrPage:
    """OCR of ``page`` rendered at ``dpi``: lines in reading-order-ready form, confidence."""
    return ocr_image(render(page, dpi), 72.0 / dpi)


def ocr_image(img: np.ndarray, scale: float) -> OcrPage:
    """OCR of an RGB image; ``scale`` maps pixels to PDF points."""
    result, _ = engine()(img, return_word_box=True)
    lines: list[Line] = []
    weight = total = 0.0
    for item in result or []:
        box, text, score = item[0], str(item[1]), float(item[2])
        chars = [(b[0][0], b[1][0]) for b in item[3]] if len(item) > 4 else []
        if not looks_like_code(text):  # code has its own spacing: "document.location="
            text = restore_spaces(text, list(item[4]) if len(item) > 4 else [], chars)
        text = text.strip()
        if not text:
            continue
        xs, ys = [p[0] for p in box], [p[1] for p in box]
        bbox = (min(xs) * scale, min(ys) * scale, max(xs) * scale, max(ys) * scale)
        # box height is about 1.25x the font size: sizes stay comparable within a page, which
        # is all heading inference needs
        size = round((bbox[3] - bbox[1]) / 1.25 * 2) / 2
        lines.append(Line(text, bbox, size, False, looks_like_code(text), False))
        n = len(text.replace(" ", ""))
        weight += score * n
        total += n
    return OcrPage(lines, weight / total if total else 0.0, int(total))


def looks_like_code(text: str) -> bool:
    """True for an OCR'd line shaped like source code (read as a monospace line: code
    blocks are kept verbatim and never taken for headings)."""
    return bool(_CODE_RE.search(text))


def restore_spaces(text: str, chars: list[str], xs: list[tuple[float, float]]) -> str:
    """``text`` with word spaces put back where the recogniser ran Latin words together.

    ``chars`` and ``xs`` are the recogniser's characters and their (x0, x1) in pixels. The
    distance between two characters' centres is about the mean of their advance widths
    (Helvetica's, in em) times the line's scale (px per em, the median over the line); a
    space goes between two Latin characters whose distance exceeds that by ``_GAP_EM`` em or
    more (the scale from Latin pairs only), and at a dropped sentence or clause break
    (``_sentence_break``); only in lines that are mostly Latin letters. Spaces the recogniser read are kept. Measured in bench/ocr.py
    (docs/ocr.md)."""
    latin = len(_LATIN.findall(text))
    # a Chinese line's Latin runs are single terms ("JavaScript"), too short to measure on
    if latin < 4 or 2 * latin < len(text.replace(" ", "")) or len(chars) != len(xs):
        return text
    ink = [i for i, c in enumerate(chars) if c.strip()]
    pairs = [(i, j) for i, j in zip(ink, ink[1:]) if j == i + 1]  # no space read between
    if not pairs:
        return text
    # only pairs of Latin characters: CJK widths in a mixed line would skew the scale
    pairs = [(i, j) for i, j in pairs if chars[i].isascii() and chars[j].isascii()]
    if len(pairs) < 6:  # too few to measure the line's scale on
        return text
    mid = [(x0 + x1) / 2 for x0, x1 in xs]
    want = {(i, j): (_advance(chars[i]) + _advance(chars[j])) / 2 for i, j in pairs}
    ratios = sorted((mid[j] - mid[i]) / want[i, j] for i, j in pairs)
    scale = ratios[len(ratios) // 2]
    if scale <= 0:
        return text
    gaps = {j for i, j in pairs if mid[j] - mid[i] - scale * want[i, j] >= _GAP_EM * scale
            or _sentence_break(chars, i, j)}
    return "".join((" " + c) if k in gaps else c for k, c in enumerate(chars))


def _sentence_break(chars: list[str], i: int, j: int) -> bool:
    """True for "word,word" / "word;word" and "end.Start": a space the recogniser dropped
    (not "e.g.", "request.getParameter" or "www.example.com": lower case after the dot)."""
    a, b = chars[i], chars[j]
    if a in ",;":
        return b.isalpha() and i > 0 and chars[i - 1].isalpha()
    return a == "." and b.isupper() and i > 0 and chars[i - 1].islower()


@functools.lru_cache(maxsize=4096)
def _advance(char: str) -> float:
    """Advance width of ``char`` in em (Helvetica metrics; 1 em for CJK and other wide ones)."""
    if not char.isascii():
        return 1.0
    return _helv().text_length(char, 1.0) or 0.5


@functools.lru_cache(maxsize=1)
def _helv() -> pymupdf.Font:
    return pymupdf.Font("helv")
