"""Held-out measurement of the hidden-text screening (issue 20, item 7): documents written here,
apart from the tests' fixtures, with other parameters, fonts and wordings.

Hidden: PDF text outside a clip path (several clip shapes), horizontal scaling 2-10 % via the
``Tz`` operator (the tests use a transform), light greys on white and on light panels; EPUB
styles the tests do not use (``font-size:0pt``, ``opacity:.05``, ``#id`` / ``p.class`` rules,
``clip-path: inset(100%)``, ...). Readable look-alikes: small fonts, mid greys, colours, 60-90 %
condensed text, text inside a page-wide clip (as LaTeX writes it), white on dark panels; EPUB
``font-size:75%``, ``opacity:0.5``, hanging indents, small negative margins, ``scale(0.9)``.

Prints per kind: hidden spans caught / tried, readable spans wrongly left out / tried.
Run: ``python bench/hidden_text_heldout.py``.
"""

from __future__ import annotations

import sys
import tempfile
from collections import Counter
from pathlib import Path

import pymupdf

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sftforge.parsing.epub import read_epub  # noqa: E402
from sftforge.parsing.pdf_page import read_page  # noqa: E402
from tests.epub_fixtures import styled_epub  # noqa: E402  (the EPUB writer only)

FONTS = [("helv", "en"), ("tiro", "en"), ("cour", "en"), ("china-s", "zh")]
WORDS = {"en": "Q{n} the appendix lists every audit step for the storage cluster",
         "zh": "Q{n} 附录列出了存储集群的每一个审计步骤"}


def _patch_last(page: pymupdf.Page, before: bytes = b"", after: bytes = b"",
                tf_suffix: bytes = b"") -> None:
    xref = page.get_contents()[-1]
    stream = page.parent.xref_stream(xref)
    if tf_suffix:
        stream = stream.replace(b" Tf", b" Tf " + tf_suffix, 1)
    page.parent.update_stream(xref, before + stream + after)


def pdf_cases() -> list[tuple[str, bool, dict]]:
    """(kind, hidden?, insert spec) for every case."""
    cases: list[tuple[str, bool, dict]] = []
    for clip in (b"0 0 1 1 re W n", b"300 0 5 5 re W n", b"0 800 600 40 re W* n"):
        cases.append(("clip", True, {"before": b"q " + clip + b"\n", "after": b"\nQ"}))
    for tz in (2, 4, 5, 8, 10):
        cases.append(("hscale", True, {"tf": f"{tz} Tz".encode()}))
    for grey in (0.82, 0.86, 0.9, 0.95):
        cases.append(("light_grey", True, {"color": (grey,) * 3}))
    cases.append(("light_on_panel", True, {"color": (0.85, 0.85, 0.95), "panel": (0.93, 0.93, 1.0)}))
    cases.append(("light_on_panel", True, {"color": (0.55, 0.55, 0.55), "panel": (0.5, 0.5, 0.5)}))
    for size in (5.5, 6.5, 8):
        cases.append(("small_font", False, {"size": size}))
    for grey in (0.3, 0.45, 0.6, 0.65):
        cases.append(("mid_grey", False, {"color": (grey,) * 3}))
    for colour in ((0, 0, 0.8), (0.8, 0, 0), (1, 0.5, 0), (0, 0.5, 0)):
        cases.append(("colour", False, {"color": colour}))
    for tz in (60, 75, 90):
        cases.append(("condensed", False, {"tf": f"{tz} Tz".encode()}))
    cases.append(("page_clip", False, {"before": b"q 0 0 612 792 re W n\n", "after": b"\nQ"}))
    cases.append(("white_on_dark", False, {"color": (1, 1, 1), "panel": (0.15, 0.2, 0.35)}))
    cases.append(("white_on_dark", False, {"color": (0.9, 0.9, 0.9), "panel": (0.3, 0.3, 0.3)}))
    return cases


def run_pdf(folder: Path) -> Counter:
    counts: Counter = Counter()
    cases = pdf_cases()
    for font, lang in FONTS:
        doc = pymupdf.open()
        page = doc.new_page()
        markers = []
        for n, (kind, hidden, spec) in enumerate(cases):
            y = 40 + 22 * n
            text = WORDS[lang].format(n=n)
            if "panel" in spec:
                page.draw_rect(pymupdf.Rect(30, y - 14, 560, y + 6), color=None, fill=spec["panel"])
            page.insert_text((40, y), text, fontname=font, fontsize=spec.get("size", 10),
                             color=spec.get("color", (0, 0, 0)))
            _patch_last(page, spec.get("before", b""), spec.get("after", b""), spec.get("tf", b""))
            markers.append((f"Q{n} ", kind, hidden))
        path = folder / f"held_{font}.pdf"
        doc.save(path)
        doc.close()
        with pymupdf.open(path) as again:
            layout = read_page(again[0])
        text = layout.text().replace("\n", " ") + " "
        for marker, kind, hidden in markers:
            gone = marker not in text
            counts[(kind, hidden, gone)] += 1
    return counts


EPUB_HIDDEN = ["font-size:0pt", "font-size:0.05em", "opacity:.05", "text-indent:-10000em",
               "position:absolute;left:-10000px", "margin-top:-9999px", "visibility: collapse",
               "clip-path: inset(100%)", "width:0;overflow:hidden", "class:gone", "class:faint",
               "color: transparent"]
EPUB_VISIBLE = ["font-size:75%", "font-size:smaller", "opacity:0.5", "text-indent:-2em",
                "margin-left:-1em", "position:relative;left:-10px", "color:#888888",
                "display:inline-block", "transform: scale(0.9)", "class:note", "font-size:0.7em"]
EPUB_CSS = "p .gone, span.gone { display: none }\n.faint{opacity:0}\n.note { font-size: 90% }"


def run_epub(folder: Path) -> Counter:
    counts: Counter = Counter()
    for lang in ("en", "zh"):
        spans = [(s, WORDS[lang].format(n=f"H{i}")) for i, s in enumerate(EPUB_HIDDEN)]
        spans += [(s, WORDS[lang].format(n=f"V{i}")) for i, s in enumerate(EPUB_VISIBLE)]
        book = read_epub(styled_epub(folder / f"held_{lang}.epub", lang, spans, css=EPUB_CSS))
        text = " ".join(b["text"] for b in book.blocks) + " "
        for i, _ in enumerate(EPUB_HIDDEN):
            counts[("epub_css", True, f"QH{i} " not in text)] += 1
        for i, _ in enumerate(EPUB_VISIBLE):
            counts[("epub_readable", False, f"QV{i} " not in text)] += 1
    return counts


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        counts = run_pdf(Path(tmp)) + run_epub(Path(tmp))
    kinds = sorted({(k, h) for k, h, _ in counts})
    caught = tried = wrong = readable = 0
    for kind, hidden in kinds:
        gone, total = counts[(kind, hidden, True)], counts[(kind, hidden, True)] + counts[(kind, hidden, False)]
        label = "caught" if hidden else "wrongly left out"
        print(f"{kind:16s} {'hidden' if hidden else 'readable':9s} {label}: {gone}/{total}")
        if hidden:
            caught, tried = caught + gone, tried + total
        else:
            wrong, readable = wrong + gone, readable + total
    print(f"hidden spans caught: {caught}/{tried} ({caught / tried:.0%}); readable spans wrongly "
          f"left out: {wrong}/{readable} ({wrong / readable:.0%})")


if __name__ == "__main__":
    main()
