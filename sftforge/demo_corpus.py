"""Demo corpus: the Markdown sources in ``sftforge/demo/`` rendered as PDFs with pymupdf.

``python -m sftforge.demo_corpus OUT_DIR`` writes one PDF per source (headings, a ruled table,
a monospace code block, a running header and page numbers on every page, like real reports).
``render_markdown_pdf`` is also what tests use to build their PDF fixtures.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pymupdf
from markdown_it import MarkdownIt

DEMO_DIR = Path(__file__).parent / "demo"

_CSS = """
body { font-size: 11pt; line-height: 1.3; }
h1 { font-size: 19pt; font-weight: bold; margin-bottom: 6pt; }
h2 { font-size: 15pt; font-weight: bold; margin-top: 10pt; }
h3 { font-size: 12.5pt; font-weight: bold; margin-top: 8pt; }
p, li { margin-top: 3pt; margin-bottom: 3pt; }
table { border-collapse: collapse; margin: 6pt 0; page-break-inside: avoid; }
th, td { border: 0.8pt solid black; padding: 2pt 4pt; font-size: 9.5pt; }
pre, code { font-family: monospace; font-size: 8.5pt; }
"""


def render_markdown_pdf(
    markdown: str,
    out: Path,
    *,
    header: str | None = None,
    page_numbers: bool = True,
    toc: bool = False,
    title: str | None = None,
    paper: str = "a5",
) -> Path:
    """Write ``markdown`` to the PDF ``out``; ``header`` repeats at the top of every page,
    ``toc`` adds a PDF outline of the headings. Returns ``out``."""
    html = MarkdownIt("commonmark").enable("table").render(markdown)
    story = pymupdf.Story(html=html, user_css=_CSS)
    rect = pymupdf.paper_rect(paper)
    where = rect + (42, 54, -42, -50)
    writer = pymupdf.DocumentWriter(str(out))
    more = 1
    while more:
        device = writer.begin_page(rect)
        more, _ = story.place(where)
        story.draw(device)
        writer.end_page()
    writer.close()
    _decorate(out, header, page_numbers, _outline(out, markdown) if toc else None, title)
    return out


def _outline(pdf: Path, markdown: str) -> list[list]:
    """[level, title, page] of the Markdown headings, each found in the rendered PDF."""
    doc = pymupdf.open(pdf)
    outline, page = [], 0
    for line in markdown.splitlines():
        if not line.startswith("#"):
            continue
        level, title = len(line) - len(line.lstrip("#")), line.lstrip("#").strip()
        # A wrapped title is not found as one string; its first word still is.
        for probe in (title, title.split()[0]):
            hit = next((i for i in range(page, doc.page_count) if doc[i].search_for(probe)), None)
            if hit is not None:
                page = hit
                break
        outline.append([level, title, page + 1])
    doc.close()
    return outline


def _decorate(path: Path, header: str | None, page_numbers: bool, toc: list[list] | None,
              title: str | None) -> None:
    """Add the running header, page numbers, outline and title to a rendered PDF."""
    doc = pymupdf.open(path)
    n = doc.page_count
    for page in doc:
        width, height = page.rect.width, page.rect.height
        font = "china-s" if header and any(ord(ch) > 0x2E80 for ch in header) else "helv"
        if header:
            page.insert_text((42, 32), header, fontname=font, fontsize=8)
            page.draw_line((42, 37), (width - 42, 37), width=0.5)
        if page_numbers:
            page.insert_text((width / 2 - 12, height - 24), f"{page.number + 1} / {n}",
                             fontname="helv", fontsize=8)
    if toc:
        doc.set_toc(toc)
    if title:
        doc.set_metadata({"title": title})
    doc.save(path, incremental=True, encryption=pymupdf.PDF_ENCRYPT_KEEP, no_new_id=True)
    doc.close()


def write_demo_corpus(out_dir: Path) -> list[Path]:
    """Render every ``sftforge/demo/*.md`` into ``out_dir``; returns the PDF paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for i, source in enumerate(sorted(DEMO_DIR.glob("*.md"))):
        markdown = source.read_text(encoding="utf-8")
        title = next((ln[2:].strip() for ln in markdown.splitlines() if ln.startswith("# ")),
                     source.stem)
        pdf = out_dir / f"{source.stem}.pdf"
        pdf.unlink(missing_ok=True)
        # One document gets a PDF outline, the others rely on inferred headings: both paths.
        render_markdown_pdf(markdown, pdf, header=title, toc=i == 0, title=title)
        written.append(pdf)
    return written


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m sftforge.demo_corpus OUT_DIR", file=sys.stderr)
        return 2
    for path in write_demo_corpus(Path(argv[0])):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
