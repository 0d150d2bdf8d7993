"""OCR at ingest (sftforge.parsing.ocr / pdf_ocr, tasks.ingest): known English and Chinese text
is rendered to images, the images made into a PDF, and what ingest reads is checked against
the original text (character error rate printed and bounded); a mixed text/scanned PDF keeps
its text layer and OCRs the scanned page; every OCR'd page is marked; a second ingest OCRs
nothing; with OCR off an image-only file is quarantined with how to turn it on."""

from __future__ import annotations

import json
from pathlib import Path

import pymupdf
import pytest

from sftforge import store
from sftforge.parsing import ocr
from sftforge.parsing.ocr_quality import char_error_rate
from sftforge.settings import OcrSettings
from sftforge.stage import BuildContext
from tasks.chunk import chunk_document, text_source
from sftforge.settings import ChunkSettings
from tasks.ingest import IngestStage, QuarantineError, ingest_file, parse_document

EN = ("SQL injection lets an attacker change the query a program sends to its database. "
      "Parameterized queries keep user input out of the query text, so the input is never "
      "read as code.")
ZH = "跨站请求伪造利用用户已登录的身份，在用户不知情的情况下发送请求。服务器应当校验令牌，并检查请求的来源。"
OCR_LOW_DPI = OcrSettings(dpi=150)  # test pages are small and clean: 150 dpi is enough


def _text_page(doc: pymupdf.Document, text: str, font: str) -> None:
    """A small page of ``text`` with a heading, as a text layer."""
    page = doc.new_page(width=360, height=260)
    page.insert_text((24, 36), "Notes" if font == "helv" else "笔记", fontname=font, fontsize=15)
    page.insert_textbox(pymupdf.Rect(24, 52, 336, 240), text, fontname=font, fontsize=11)


def _scanned(src: pymupdf.Document, path: Path, keep_text: set[int] = frozenset()) -> Path:
    """``src`` with every page but ``keep_text`` replaced by a 150 dpi picture of itself."""
    out = pymupdf.open()
    for i, page in enumerate(src):
        if i in keep_text:
            out.insert_pdf(src, from_page=i, to_page=i)
            continue
        pix = page.get_pixmap(dpi=150)
        out.new_page(width=page.rect.width, height=page.rect.height).insert_image(
            page.rect, pixmap=pix)
    out.save(path)
    return path


@pytest.fixture(scope="module")
def engine_loaded() -> None:
    """Load the OCR models once for this module (a few seconds)."""
    ocr.engine()


def _body(parsed) -> str:
    return "\n".join(b["text"] for b in parsed.blocks if b["kind"] != "heading")


@pytest.mark.parametrize("text, font", [(EN, "helv"), (ZH, "china-s")], ids=["en", "zh"])
def test_scanned_page_is_read_back(tmp_path, engine_loaded, text, font):
    src = pymupdf.open()
    _text_page(src, text, font)
    parsed = parse_document(_scanned(src, tmp_path / "scan.pdf"), OCR_LOW_DPI)
    cer = char_error_rate(text, _body(parsed))
    print(f"\n{font}: CER {cer:.3f}, confidence {parsed.ocr[0]['confidence']:.3f}")
    assert cer < 0.1
    assert [b["page"] for b in parsed.blocks] == [1] * len(parsed.blocks)
    assert parsed.ocr[0]["why"] == "no text layer" and parsed.ocr[0]["kept"]
    head = parsed.blocks[0]
    assert head["kind"] == "heading" and head["text"] in ("Notes", "笔记")  # larger box


def test_mixed_pdf_keeps_text_layer_and_marks_ocr(tmp_path, engine_loaded):
    src = pymupdf.open()
    _text_page(src, EN, "helv")
    _text_page(src, ZH, "china-s")
    path = _scanned(src, tmp_path / "mixed.pdf", keep_text={0})
    uri = str(tmp_path / "db")
    stage = IngestStage(paths=[str(path)], ocr=OCR_LOW_DPI)
    ctx = BuildContext(db_uri=uri, home=str(tmp_path), run_id="t")
    assert len(stage.pending(ctx)) == 1
    result = ingest_file(str(path), uri, ocr=OCR_LOW_DPI)
    assert (result["status"], result["ocr_pages"]) == ("ok", 1)
    row = store.read(uri, "documents").to_dicts()[0]
    assert row["text_source"] == "mixed" and 0.8 <= row["ocr_confidence"] <= 1.0
    assert [p for p, _ in json.loads(row["ocr_pages"])] == [2]
    blocks = json.loads(row["blocks"])
    page2 = "".join(b["text"] for b in blocks if b["page"] == 2 and b["kind"] != "heading")
    page1 = " ".join(b["text"] for b in blocks if b["page"] == 1 and b["kind"] != "heading")
    print(f"\nmixed: CER page 1 {char_error_rate(EN, page1):.3f}, "
          f"page 2 (OCR) {char_error_rate(ZH, page2):.3f}")
    assert page1 == EN  # the text layer, as read without OCR
    assert char_error_rate(ZH, page2) < 0.1
    assert stage.pending(ctx) == []  # a second build OCRs nothing
    chunk_document(row["doc_id"], uri, ChunkSettings())
    sources = {c["text_source"] for c in store.read(uri, "chunks").to_dicts()}
    assert sources <= {"mixed", "ocr", "text_layer"} and sources & {"mixed", "ocr"}


def test_ocr_off_quarantines_image_only_with_how_to_turn_it_on(tmp_path):
    src = pymupdf.open()
    _text_page(src, EN, "helv")
    path = _scanned(src, tmp_path / "scan.pdf")
    with pytest.raises(QuarantineError) as err:
        parse_document(path, OcrSettings(enabled=False))
    assert err.value.reason.startswith("scan.pdf: image-only PDF")
    assert "SFTFORGE_OCR__ENABLED=true" in err.value.reason and err.value.needs_ocr


def test_pages_under_the_confidence_threshold_are_left_out(tmp_path, engine_loaded):
    src = pymupdf.open()
    _text_page(src, EN, "helv")
    path = _scanned(src, tmp_path / "scan.pdf")
    with pytest.raises(QuarantineError) as err:
        parse_document(path, OcrSettings(dpi=150, min_confidence=1.0))
    assert "under the threshold 1.0" in err.value.reason
    assert "SFTFORGE_OCR__MIN_CONFIDENCE" in err.value.reason


def _boxes(words: list[str], em: float = 20.0, gap: float = 0.28) -> tuple[list, list]:
    """Characters of ``words`` set in Helvetica at ``em`` px, ``gap`` em between words, run
    together (no space characters): what the recogniser reports for a jammed line."""
    font, chars, xs, x = pymupdf.Font("helv"), [], [], 0.0
    for word in words:
        for c in word:
            w = font.text_length(c, em)
            chars.append(c)
            xs.append((x, x + w))
            x += w
        x += gap * em
    return chars, xs


def test_restore_spaces_from_character_geometry():
    chars, xs = _boxes(["Attackers", "can", "execute", "scripts", "in", "the", "victim's"])
    jammed = "".join(chars)
    assert ocr.restore_spaces(jammed, chars, xs) == "Attackers can execute scripts in the victim's"
    chars, xs = _boxes(["withoutproper"])  # one word as far as the geometry shows
    assert ocr.restore_spaces("withoutproper", chars, xs) == "withoutproper"
    zh = "跨站请求伪造利用用户已登录的身份"
    assert ocr.restore_spaces(zh, list(zh), [(i * 20, i * 20 + 18) for i in range(16)]) == zh


def test_text_source_of_a_chunk_from_its_pages():
    assert text_source(1, 2, {}) == {"text_source": "text_layer", "ocr_confidence": 0.0}
    assert text_source(2, 3, {2: 0.9, 3: 0.8}) == {"text_source": "ocr", "ocr_confidence": 0.85}
    assert text_source(1, 2, {2: 0.9})["text_source"] == "mixed"


def test_card_counts_ocr_pages_and_their_confidence():
    from sftforge.release.card_render import documents_section
    from tasks.card import ocr_summary

    docs = [{"source": "scan.pdf", "doc_id": "d1", "n_pages": 3, "flags": [], "hidden_spans": 0,
             "hidden_sample": "", "ocr_pages": 2, "ocr_confidence": 0.9, "text_source": "ocr",
             "notes": "pages 3: OCR confidence 0.41 under 0.8, left out"},
            {"source": "paper.pdf", "doc_id": "d2", "n_pages": 5, "flags": [], "hidden_spans": 0,
             "hidden_sample": "", "ocr_pages": 1, "ocr_confidence": 0.6,
             "text_source": "mixed", "notes": ""}]
    assert ocr_summary(docs) == {"pages": 3, "mean_confidence": 0.8, "documents": 2}
    card = documents_section(docs, {"scan.pdf": 4})
    assert "| scan.pdf | d1 | 3 | 2 (0.90) | 4 |" in card
    assert "3 page(s) had no usable text layer and were read by OCR (mean confidence 0.80)" in card
    assert "- scan.pdf: pages 3: OCR confidence 0.41 under 0.8, left out" in card


def test_restore_spaces_leaves_code_and_urls_and_chinese_neighbours_alone():
    chars, xs = _boxes(["request.getParameter(id)"])
    assert ocr.restore_spaces("".join(chars), chars, xs) == "request.getParameter(id)"
    chars, xs = _boxes(["escaping.Attackers"])
    assert ocr.restore_spaces("".join(chars), chars, xs) == "escaping. Attackers"
    line = "使用OWASPXSSPreventionCheatSheet"
    chars = list(line)
    xs, x = [], 0.0
    font = pymupdf.Font("helv")
    for c in chars:  # CJK 1 em, Latin its Helvetica width, no gaps: one run of characters
        w = 20.0 if not c.isascii() else font.text_length(c, 20.0)
        xs.append((x, x + w))
        x += w
    assert ocr.restore_spaces(line, chars, xs) == line


@pytest.mark.parametrize("text, code", [
    ("(String) page += \"<input name='creditcard' type='TEXT'", True),
    ("'><script>document.location=", True),
    ("String query = \"SELECT * FROM accounts WHERE custID='\" + id + \"'\";", True),
    ("custID = request.getParameter(\"id\")", True),
    ("Injection flaws are very prevalent, particularly in legacy code.", False),
    ("Exploitability: 3", False),
    ("Is the Application Vulnerable?", False),
    ("·ASVS: Output Encoding/Escaping Requirements(V6)", False),
    ("guide for setting the security requirements for your application(s).", False),
    ("攻击者在浏览器中修改“CC”参数为如下值：", False),
    ("防止XSS需要将不可信数据与动态的浏览器内容区分开。", False),
])
def test_ocr_lines_shaped_like_code_read_as_code(text, code):
    assert ocr.looks_like_code(text) is code
