"""OCR of one PDF page without a usable text layer: offline, on CPU, Chinese and English.

``ocr_page(page, dpi)`` renders the page, runs RapidOCR (PP-OCRv4 detection + recognition
models shipped inside the ``rapidocr-onnxruntime`` wheel, on onnxruntime) and returns an
``OcrPage``: ``Line`` objects in PDF points (so ``pdf_blocks`` joins, orders and finds headings
in them exactly as in text-layer pages) and the mean recognition confidence, weighted by
characters. The engine is loaded once per process (a few seconds) and reused.

Spacing: the recogniser often runs English words together ("withoutpropervalidation"). Where
a Latin line came back with too few spaces, they are put back from the geometry the
recogniser reports per character (a word gap is a larger step between character positions
than the line's usual step), see ``restore_spaces``. Engine choice and figures: docs/ocr.md.
"""

from __future__ import annotations

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
_GAP_STEP = 1.45  # a step this many times the line's median step is a word gap (bench/ocr.py)


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
            from rapidocr_onnxruntime import RapidOCR

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
        text = restore_spaces(text, list(item[4]) if len(item) > 4 else [], chars)
        text = text.strip()
        if not text:
            continue
        xs, ys = [p[0] for p in box], [p[1] for p in box]
        bbox = (min(xs) * scale, min(ys) * scale, max(xs) * scale, max(ys) * scale)
        # box height is about 1.25x the font size: sizes stay comparable within a page, which
        # is all heading inference needs
        size = round((bbox[3] - bbox[1]) / 1.25 * 2) / 2
        lines.append(Line(text, bbox, size, False, False, False))
        n = len(text.replace(" ", ""))
        weight += score * n
        total += n
    return OcrPage(lines, weight / total if total else 0.0, int(total))


def restore_spaces(text: str, chars: list[str], xs: list[tuple[float, float]]) -> str:
    """``text`` with word spaces put back where the recogniser ran Latin words together.

    ``chars`` and ``xs`` are the recogniser's characters and their (x0, x1) in pixels. A line
    that already has about one space per 12 Latin letters is trusted as it is; otherwise a
    space goes between two Latin characters whose step (x0 to x0) is ``_GAP_STEP`` times the
    line's median step or more, and after ``.,;:!?`` before a letter."""
    latin = len(_LATIN.findall(text))
    if latin < 8 or text.count(" ") * 12 >= latin or len(chars) != len(xs) or len(chars) < 3:
        return text
    steps = [xs[i][0] - xs[i - 1][0] for i in range(1, len(chars))
             if chars[i].strip() and chars[i - 1].strip()]
    median = sorted(steps)[len(steps) // 2] if steps else 0
    if median <= 0:
        return text
    out = [chars[0]]
    for i in range(1, len(chars)):
        a, b = chars[i - 1], chars[i]
        step = xs[i][0] - xs[i - 1][0]
        if a.strip() and b.strip() and _latin_pair(a, b) and (
                step >= _GAP_STEP * median or (a in ".,;:!?" and b.isalpha())):
            out.append(" ")
        out.append(b)
    return "".join(out)


def _latin_pair(a: str, b: str) -> bool:
    """True when a space may stand between ``a`` and ``b`` (neither is a CJK character)."""
    return a.isascii() and b.isascii()
