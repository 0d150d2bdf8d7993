"""OCR engines on the same rasterised pages: pages per minute and character error rate.

    .venv/bin/python bench/ocr.py                      # generated English + Chinese pages
    .venv/bin/python bench/ocr.py corpus/ --pages 2    # also the first pages of real PDFs

Pages with known text are written with pymupdf (English in Helvetica, Chinese in pymupdf's
built-in CJK font ``china-s``, 9-12 pt, a heading per page), rendered to images and OCR'd; the
reference is each page's own text layer. Real PDFs given on the command line are used the same
way (their text layer is the reference, so pick PDFs whose text layer is good); from each,
``--pages`` text-rich pages (150+ words) after the first two such pages (covers and contents
are skipped).

Engines (each skipped with a note when it is not installed):
* ``rapidocr``: rapidocr-onnxruntime (PP-OCRv4 CN+EN), through ``sftforge.parsing.ocr``, with
  the word spaces restored from geometry (what ingest uses) and raw (as the engine returns it);
* ``tesseract``: Tesseract 5 through pymupdf's ``get_textpage_ocr`` (eng+chi_sim), needs the
  Debian packages tesseract-ocr tesseract-ocr-chi-sim.

CER = edits / reference characters after normalisation (``sftforge.parsing.ocr_quality``),
with spaces (a run-together English word counts) and without. Pages per minute are wall
clock on this machine with the engine's threads limited to ``--threads`` (default 2), and CPU
seconds of this process (fairer when other work shares the cores). Word spaces: on the
generated English pages, line by line, the spaces rapidocr returns and those after
``restore_spaces``, found / wrongly inserted. Prints figures only.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import pymupdf

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sftforge.parsing import ocr  # noqa: E402
from sftforge.parsing.ocr_quality import char_error_rate  # noqa: E402
from sftforge.parsing.reading_order import reading_order  # noqa: E402

EN = [
    "Injection flaws, such as SQL, NoSQL, OS, and LDAP injection, occur when untrusted data is "
    "sent to an interpreter as part of a command or query. The attacker's hostile data can trick "
    "the interpreter into executing unintended commands or accessing data without proper "
    "authorization.",
    "Application functions related to authentication and session management are often "
    "implemented incorrectly, allowing attackers to compromise passwords, keys, or session "
    "tokens, or to exploit other implementation flaws to assume other users' identities.",
    "Cross-site scripting occurs whenever an application includes untrusted data in a new web "
    "page without proper validation or escaping, or updates an existing web page with "
    "user-supplied data using a browser API that can create HTML or JavaScript.",
    "Restrictions on what authenticated users are allowed to do are often not properly "
    "enforced. Attackers can exploit these flaws to access unauthorized functionality and data, "
    "such as access other users' accounts, view sensitive files, or change access rights.",
]
ZH = [
    "注入漏洞，例如SQL注入、操作系统命令注入和LDAP注入，发生在不可信数据作为命令或查询的一部分"
    "被发送到解释器时。攻击者的恶意数据可以诱使解释器在未经授权的情况下执行非预期的命令或访问数据。",
    "与身份认证和会话管理相关的应用程序功能经常被错误地实现，使攻击者能够破解密码、密钥或会话令牌，"
    "或者利用其他实现缺陷暂时或永久地冒充其他用户的身份。",
    "当应用程序在新网页中包含不可信数据而未进行适当的验证或转义，或者使用可以创建HTML或JavaScript的"
    "浏览器接口以用户提供的数据更新现有网页时，就会出现跨站脚本漏洞。",
    "对于通过身份验证的用户能够执行的操作，缺乏有效的限制。攻击者可以利用这些缺陷访问未经授权的功能"
    "或数据，例如访问其他用户的账户、查看敏感文件、修改其他用户的数据或更改访问权限。",
]


def known_pages(size: float) -> pymupdf.Document:
    """Two A4 pages (English, Chinese) of known text at font ``size`` with a heading each."""
    doc = pymupdf.open()
    for font, title, paras in (("helv", "A1 Injection and Broken Authentication", EN),
                               ("china-s", "第一章 注入与失效的身份认证", ZH)):
        page = doc.new_page()
        page.insert_text((72, 80), title, fontname=font, fontsize=size + 5)
        y = 110.0
        for para in paras:
            rect = pymupdf.Rect(72, y, 523, y + 200)
            left = page.insert_textbox(rect, para, fontname=font, fontsize=size)
            y += 200 - left + size
    return doc


def rapid_texts(page: pymupdf.Page, dpi: int) -> dict[str, str]:
    """Text rapidocr reads on ``page`` (lines in reading order): spaces restored, and raw."""
    result, _ = ocr.engine()(ocr.render(page, dpi), return_word_box=True)
    boxes, fixed, raw = [], [], []
    for item in result or []:
        xs, ys = [p[0] for p in item[0]], [p[1] for p in item[0]]
        boxes.append((min(xs), min(ys), max(xs), max(ys)))
        raw.append(str(item[1]))
        fixed.append(ocr.restore_spaces(raw[-1], list(item[4]),
                                        [(b[0][0], b[1][0]) for b in item[3]]))
    order = reading_order(boxes)
    return {"": "\n".join(fixed[i] for i in order), " raw": "\n".join(raw[i] for i in order)}


def tesseract_text(page: pymupdf.Page, dpi: int) -> str:
    """Text Tesseract reads on ``page`` (pymupdf OCR text page, the whole page re-OCR'd)."""
    tp = page.get_textpage_ocr(language="eng+chi_sim", dpi=dpi, full=True,
                               tessdata=os.environ.get("TESSDATA_PREFIX") or _tessdata())
    return page.get_text(textpage=tp)


def _tessdata() -> str | None:
    for cand in sorted(Path("/usr/share/tesseract-ocr").glob("*/tessdata")):
        return str(cand)
    return None


def engines(dpis: list[int]) -> dict:
    """name -> function(page) -> {variant suffix: text}, for the engines installed here."""
    out = {}
    for dpi in dpis:
        out[f"rapidocr {dpi}dpi"] = lambda p, d=dpi: rapid_texts(p, d)
    if _tessdata():
        for dpi in dpis:
            out[f"tesseract {dpi}dpi"] = lambda p, d=dpi: {"": tesseract_text(p, d)}
    else:
        print("tesseract: not installed (apt-get install tesseract-ocr tesseract-ocr-chi-sim)")
    return out


def pages(corpus: Path | None, n: int) -> list[tuple[str, pymupdf.Page]]:
    """(label, page) to OCR: generated pages, then the first ``n`` pages of corpus PDFs."""
    out = []
    for size in (10.0, 12.0):
        doc = known_pages(size)
        out += [(f"gen-{'en' if i == 0 else 'zh'}-{size:g}pt", doc[i]) for i in range(2)]
    if corpus:
        for pdf in sorted(corpus.glob("*.pdf")) if corpus.is_dir() else [corpus]:
            doc = pymupdf.open(pdf)
            rich = [i for i in range(doc.page_count) if len(doc[i].get_text().split()) >= 150]
            out += [(f"{pdf.stem}-p{i + 1}", doc[i]) for i in rich[2:2 + n]]
    return out


def word_gaps(text: str) -> set[int]:
    """Positions (in ``text`` without spaces) after which a space follows."""
    gaps, n = set(), 0
    for c in text:
        if c == " ":
            gaps.add(n - 1)
        else:
            n += 1
    return gaps


def spacing(dpi: int) -> None:
    """Word spaces on the generated English pages, line by line against the text layer (lines
    whose characters were read exactly): as the engine returns them and restored."""
    counts = {"raw": [0, 0, 0], "restored": [0, 0, 0]}  # found, inserted wrongly, missed
    for size in (10.0, 12.0):
        page = known_pages(size)[0]
        truth = {t.replace(" ", ""): t for t in page.get_text().splitlines() if t.strip()}
        result, _ = ocr.engine()(ocr.render(page, dpi), return_word_box=True)
        for item in result or []:
            text, chars = str(item[1]), list(item[4])
            if text.replace(" ", "") not in truth:
                continue
            want = word_gaps(truth[text.replace(" ", "")])
            fixed = ocr.restore_spaces(text, chars, [(b[0][0], b[1][0]) for b in item[3]])
            for name, got in (("raw", word_gaps(text)), ("restored", word_gaps(fixed))):
                c = counts[name]
                c[0], c[1], c[2] = c[0] + len(want & got), c[1] + len(got - want), \
                    c[2] + len(want - got)
    for name, (ok, wrong, missed) in counts.items():
        print(f"word spaces {name:9} {dpi}dpi: {ok}/{ok + missed} found "
              f"({ok / max(1, ok + missed):.3f}), {wrong} wrongly inserted")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("corpus", nargs="?", type=Path, help="a PDF or a folder of PDFs")
    ap.add_argument("--pages", type=int, default=2, help="text-rich pages per corpus PDF")
    ap.add_argument("--dpi", type=int, nargs="+", default=[200])
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    os.environ["SFTFORGE_OCR_THREADS"] = os.environ["OMP_THREAD_LIMIT"] = str(args.threads)
    todo = pages(args.corpus, args.pages)
    ocr.engine()  # model loading is not billed to the first page
    for dpi in args.dpi:
        spacing(dpi)
    print(f"{'engine':26} {'page':26} {'wall s':>7} {'cpu s':>6} {'CER':>6} {'CER-nosp':>8}")
    for name, read in engines(args.dpi).items():
        stats: dict[str, list] = {}
        for label, page in todo:
            truth = page.get_text()
            w0, c0 = time.perf_counter(), time.process_time()
            texts = read(page)
            wall, cpu = time.perf_counter() - w0, time.process_time() - c0
            for suffix, text in texts.items():
                row = (wall, cpu, char_error_rate(truth, text),
                       char_error_rate(truth, text, spaces=False))
                stats.setdefault(name + suffix, []).append(row)
                print(f"{name + suffix:26} {label:26} {wall:7.2f} {cpu:6.2f} {row[2]:6.3f} "
                      f"{row[3]:8.3f}")
        for variant, rows in stats.items():
            wall, cpu, cer, nosp = (statistics.mean(col) for col in zip(*rows))
            print(f"{variant:26} ALL: {60 / wall:.1f} pages/min wall, {cpu:.1f} CPU s/page, "
                  f"CER {cer:.3f} (no spaces {nosp:.3f})\n")


if __name__ == "__main__":
    main()
