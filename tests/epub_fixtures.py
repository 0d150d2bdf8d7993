"""EPUB books written by tests: a zip with mimetype, container.xml, an OPF, a nav and XHTML
chapters (what every EPUB 3 reader, pymupdf included, needs)."""

from __future__ import annotations

import html
import zipfile
from pathlib import Path

_CONTAINER = """<?xml version="1.0" encoding="UTF-8"?>
<container version="1.0" xmlns="urn:oasis:names:tc:opendocument:xmlns:container">
  <rootfiles><rootfile full-path="OEBPS/book.opf" media-type="application/oebps-package+xml"/>
  </rootfiles>
</container>"""


def _chapter(title: str, paragraphs: list[str], lang: str) -> str:
    body = "\n".join(f"<p>{html.escape(p)}</p>" for p in paragraphs)
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<html xmlns="http://www.w3.org/1999/xhtml" '
            f'xml:lang="{lang}"><head><title>{html.escape(title)}</title></head><body>\n'
            f"<h1>{html.escape(title)}</h1>\n{body}\n</body></html>")


def _opf(title: str, n: int) -> str:
    items = "\n".join(f'<item id="c{i}" href="c{i}.xhtml" media-type="application/xhtml+xml"/>'
                      for i in range(n))
    spine = "\n".join(f'<itemref idref="c{i}"/>' for i in range(n))
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<package xmlns="http://www.idpf.org/2007/opf" version="3.0" unique-identifier="id">
  <metadata xmlns:dc="http://purl.org/dc/elements/1.1/">
    <dc:identifier id="id">urn:uuid:sftforge-test</dc:identifier>
    <dc:title>{html.escape(title)}</dc:title><dc:language>en</dc:language>
  </metadata>
  <manifest>
    <item id="nav" href="nav.xhtml" media-type="application/xhtml+xml" properties="nav"/>
    {items}
  </manifest>
  <spine>{spine}</spine>
</package>"""


def _nav(titles: list[str]) -> str:
    links = "".join(f'<li><a href="c{i}.xhtml">{html.escape(t)}</a></li>'
                    for i, t in enumerate(titles))
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<html xmlns="http://www.w3.org/1999/xhtml" '
            'xmlns:epub="http://www.idpf.org/2007/ops"><head><title>Contents</title></head><body>'
            f'<nav epub:type="toc"><ol>{links}</ol></nav></body></html>')


def write_epub(path: Path, title: str, chapters: list[tuple[str, list[str], str]]) -> Path:
    """An EPUB at ``path``: ``chapters`` are (title, paragraphs, language code)."""
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("mimetype", "application/epub+zip", compress_type=zipfile.ZIP_STORED)
        z.writestr("META-INF/container.xml", _CONTAINER)
        z.writestr("OEBPS/book.opf", _opf(title, len(chapters)))
        z.writestr("OEBPS/nav.xhtml", _nav([c[0] for c in chapters]))
        for i, (head, paragraphs, lang) in enumerate(chapters):
            z.writestr(f"OEBPS/c{i}.xhtml", _chapter(head, paragraphs, lang))
    return path


def styled_epub(path: Path, lang: str, spans: list[tuple[str, str]], css: str = "") -> Path:
    """A one-chapter EPUB: a visible paragraph, then one paragraph per (style, text) of
    ``spans`` whose middle is a ``<span>`` carrying that style (``class:NAME`` puts
    ``class="NAME"`` instead, for rules in ``css``, which goes into a linked stylesheet)."""
    write_epub(path, "Styles", [("Chapter", ["Visible opening paragraph."], lang)])
    with zipfile.ZipFile(path) as z:
        files = {n: z.read(n) for n in z.namelist()}
    paragraphs = "".join(
        f'<p>Before <span {_style_attr(style)}>{html.escape(text)}</span> after.</p>'
        for style, text in spans)
    chapter = files["OEBPS/c0.xhtml"].decode().replace("</h1>", "</h1>" + paragraphs)
    if css:
        chapter = chapter.replace(
            "</head>", '<link rel="stylesheet" type="text/css" href="book.css"/></head>')
        files["OEBPS/book.css"] = css.encode()
    files["OEBPS/c0.xhtml"] = chapter.encode()
    with zipfile.ZipFile(path, "w") as z:
        for name, data in files.items():
            z.writestr(name, data, compress_type=zipfile.ZIP_STORED if name == "mimetype"
                       else zipfile.ZIP_DEFLATED)
    return path


def _style_attr(style: str) -> str:
    if style.startswith("class:"):
        return f'class="{style[6:]}"'
    return f'style="{html.escape(style)}"'
