"""tasks.ingest and sftforge.parsing.pdf on PDFs the tests write: broken files are quarantined with a
reason that names the file and what to do; good files give headings, tables, code, pages."""

import json
from pathlib import Path

import pymupdf
import pytest

from sftforge import ids, store
from sftforge.parsing.pdf import reading_order
from sftforge.stage import BuildContext
from tasks.ingest import (
    QuarantineError,
    IngestStage,
    ingest_file,
    parse_document,
    supported,
)
from tests import pdf_fixtures as fx


@pytest.fixture(scope="module")
def pdfs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("pdfs")
    makers = {
        "english": fx.good_english_pdf, "chinese": fx.good_chinese_pdf,
        "corrupt": fx.corrupt_pdf, "truncated": fx.truncated_pdf,
        "encrypted": fx.encrypted_pdf, "image_only": fx.image_only_pdf,
        "garbled": fx.garbled_pdf, "empty": fx.empty_pdf, "zero_pages": fx.zero_page_pdf,
    }
    out = {name: make(folder / f"{name}.pdf") for name, make in makers.items()}
    out["english_no_toc"] = fx.good_english_pdf(folder / "english_no_toc.pdf", toc=False)
    return out


@pytest.mark.parametrize("kind, words", [
    ("corrupt", ["not a PDF", "re-download"]),
    ("truncated", ["truncated", "complete file"]),
    ("encrypted", ["encrypted", "password", "unencrypted copy"]),
    ("image_only", ["image-only", "OCR"]),
    ("garbled", ["garbled", "re-export"]),
    ("empty", ["empty file", "0 bytes"]),
    ("zero_pages", ["zero pages", "re-export"]),
])
def test_broken_files_are_quarantined_with_reason(pdfs, kind, words):
    with pytest.raises(QuarantineError) as err:
        parse_document(pdfs[kind])
    reason = err.value.reason
    assert reason.startswith(f"{kind}.pdf: ")
    for w in words:
        assert w in reason


def test_english_pdf_blocks(pdfs):
    doc = parse_document(pdfs["english"])
    assert (doc.lang, doc.title, doc.notes) == ("en", "Security Handbook", [])
    assert doc.n_pages >= 4
    heads = [(b["text"], b["level"]) for b in doc.blocks if b["kind"] == "heading"]
    assert heads[:3] == [("Web Application Security Handbook", 1), ("Injection Attacks", 2),
                         ("SQL Injection", 3)]
    assert ("Session Management", 2) in heads
    toc_pages = {title: page for _, title, page in doc.toc}
    for b in doc.blocks:
        if b["kind"] == "heading":
            assert b["page"] == toc_pages[b["text"]]
    table = next(b for b in doc.blocks if b["kind"] == "table")
    assert table["text"].split("\n")[:3] == [
        "| Attack | Impact | Primary defense |", "| --- | --- | --- |",
        "| SQL injection | Data theft | Parameterized queries |"]
    code = next(b for b in doc.blocks if b["kind"] == "code")
    assert code["text"] == ('def find_user(db, name):\n    sql = "SELECT id FROM users"\n'
                            '    sql += " WHERE name = ?"\n\n'
                            '    return db.execute(sql, (name,))')  # verbatim, blank line too
    text = "\n".join(b["text"] for b in doc.blocks)
    assert "SQL injection | Data theft" not in text.replace(table["text"], "")  # not duplicated
    assert "bypass authentication by replaying" in text  # hyphenated line break joined
    assert doc.blocks[-1]["page"] == doc.n_pages


def test_running_header_and_page_numbers_removed(pdfs):
    doc = parse_document(pdfs["english"])
    text = "\n".join(b["text"] for b in doc.blocks)
    assert fx.HEADER_EN not in text
    assert f"1 / {doc.n_pages}" not in text and f"2 / {doc.n_pages}" not in text
    zh = parse_document(pdfs["chinese"])
    assert fx.HEADER_ZH not in "\n".join(b["text"] for b in zh.blocks)


def test_headings_inferred_from_font_size_without_outline(pdfs):
    doc = parse_document(pdfs["english_no_toc"])
    levels = {b["text"]: b["level"] for b in doc.blocks if b["kind"] == "heading"}
    assert (levels["Web Application Security Handbook"] < levels["Injection Attacks"]
            < levels["SQL Injection"])
    assert levels["Injection Attacks"] == levels["Session Management"]
    assert [t for _, t, _ in doc.toc][:2] == ["Web Application Security Handbook",
                                              "Injection Attacks"]


def test_chinese_pdf_blocks(pdfs):
    doc = parse_document(pdfs["chinese"])
    assert doc.lang == "zh" and doc.n_pages >= 3
    heads = [b["text"] for b in doc.blocks if b["kind"] == "heading"]
    assert heads[:3] == ["网络安全基础", "跨站脚本", "攻击原理"]
    table = next(b for b in doc.blocks if b["kind"] == "table")
    assert "| 反射型 | 当前请求 | 搜索框 |" in table["text"]
    para = next(b for b in doc.blocks if b["kind"] == "paragraph")
    assert para["text"].startswith("跨站脚本是一种常见的网页漏洞。攻击者把恶意脚本注入页面")
    assert " " not in para["text"][:40]  # CJK lines joined without spaces
    assert any(b["kind"] == "code" and "escape(name)" in b["text"] for b in doc.blocks)


def test_pages_without_text_layer_are_noted(tmp_path):
    path = fx.good_english_pdf(tmp_path / "mixed.pdf")
    doc = pymupdf.open(path)
    pix = doc[0].get_pixmap(dpi=30)
    doc.new_page(width=300, height=400).insert_image(pymupdf.Rect(0, 0, 300, 400), pixmap=pix)
    doc.saveIncr()
    doc.close()
    parsed = parse_document(path)  # OCR off (parse_document's default): the page is noted
    assert parsed.notes == [f"pages {parsed.n_pages}: no text layer (image only), skipped; "
                            "turn OCR on (SFTFORGE_OCR__ENABLED=true, or enabled = true under "
                            "[ocr] in sftforge.toml) to include them"]


def test_two_columns_read_column_by_column():
    title = (50, 40, 550, 60)
    left = [(50, 80 + 60 * i, 290, 130 + 60 * i) for i in range(4)]
    right = [(310, 80 + 60 * i, 550, 130 + 60 * i) for i in range(4)]
    boxes = [title] + [b for pair in zip(left, right) for b in pair]  # interleaved input
    order = reading_order(boxes)
    assert [boxes[i] for i in order] == [title] + left + right


def test_markdown_and_text_files(tmp_path):
    md = tmp_path / "notes.md"
    md.write_text("# 笔记\n\n## 注入\n\n参数化查询可以防止注入。\n\n```\nSELECT 1;\n```\n",
                  encoding="utf-8")
    doc = parse_document(md)
    assert (doc.title, doc.lang, doc.toc) == ("笔记", "zh", [[1, "笔记", 1], [2, "注入", 1]])
    assert [b["kind"] for b in doc.blocks] == ["heading", "heading", "paragraph", "code"]
    gbk = tmp_path / "legacy.txt"
    gbk.write_bytes("跨站脚本攻击的防御方法。\n".encode("gb18030"))
    assert parse_document(gbk).blocks[0]["text"] == "跨站脚本攻击的防御方法。"
    binary = tmp_path / "data.txt"
    binary.write_bytes(b"\x00\x01\x02binary" * 50)
    with pytest.raises(QuarantineError, match="binary data"):
        parse_document(binary)
    assert supported(md) and supported(Path("a.PDF")) and not supported(Path("a.docx"))


def test_ingest_file_writes_rows_and_never_raises(tmp_path, pdfs):
    db = str(tmp_path / "db")
    ok = ingest_file(str(pdfs["english"]), db)
    bad = ingest_file(str(pdfs["encrypted"]), db)
    missing = ingest_file(str(tmp_path / "gone.pdf"), db)
    assert ok["status"] == "ok" and ok["doc_id"] == ids.doc_id_for_file(pdfs["english"])
    assert bad["status"] == missing["status"] == "quarantined"
    assert "password" in bad["reason"] and "gone.pdf: cannot read" in missing["reason"]
    rows = {r["doc_id"]: r for r in store.read(db, "documents").to_dicts()}
    assert len(rows) == 3
    row = rows[ok["doc_id"]]
    assert row["source"] == "english.pdf" and row["lang"] == "en" and row["reason"] == ""
    assert json.loads(row["blocks"])[0] == {"kind": "heading", "page": 1, "level": 1,
                                            "text": "Web Application Security Handbook"}
    assert json.loads(rows[bad["doc_id"]]["blocks"]) == []
    ingest_file(str(pdfs["english"]), db)  # re-ingest updates, never duplicates
    assert store.count(db, "documents") == 3


def test_ingest_pending_follows_content_not_the_path(tmp_path):
    a, b = tmp_path / "a.md", tmp_path / "b.md"
    a.write_text("# A\n\ntext\n", encoding="utf-8")
    b.write_text("# A\n\ntext\n", encoding="utf-8")
    ctx = BuildContext(db_uri=str(tmp_path / "db"), home=str(tmp_path), run_id="r")
    stage = IngestStage(paths=[str(a), str(b)])
    assert [i["path"] for i in stage.pending(ctx)] == [str(a), str(b)]
    assert stage.pending(ctx)[0]["doc_id"] == stage.pending(ctx)[1]["doc_id"]  # same bytes
    stage.run(ctx, stage.pending(ctx)[:1])
    assert stage.pending(ctx) == []  # b's bytes are a's: done
    b.write_text("# B\n\nother\n", encoding="utf-8")
    assert [i["path"] for i in stage.pending(ctx)] == [str(b)]
    other = ctx.model_copy(update={"db_uri": str(tmp_path / "other-db")})
    assert len(stage.pending(other)) == 2


def test_table_split_by_page_breaks_is_joined(tmp_path):
    doc = parse_document(fx.long_table_pdf(tmp_path / "register.pdf"))
    assert doc.n_pages >= 3
    assert doc.blocks[0] == {"kind": "heading", "text": "Risk Register", "page": 1, "level": 1}
    tables = [b for b in doc.blocks if b["kind"] == "table"]
    assert len(tables) == 1
    rows = tables[0]["text"].split("\n")
    assert rows[:2] == ["| Id | Risk | Owner |", "| --- | --- | --- |"]
    assert rows[2:] == [f"| R{i:02d} | risk number {i} | owner {i % 4} |" for i in range(40)]
    assert doc.blocks[-1]["text"].startswith("The register is reviewed every month")


def test_demo_corpus_is_small_and_parses(tmp_path):
    from sftforge.demo_corpus import write_demo_corpus
    from sftforge.settings import ChunkSettings
    from tasks.chunk import chunk_blocks

    pdfs = write_demo_corpus(tmp_path)
    docs = [parse_document(p) for p in pdfs]
    assert sorted(d.lang for d in docs) == ["en", "en", "zh"]
    for d in docs:
        kinds = {b["kind"] for b in d.blocks}
        assert {"heading", "paragraph", "table", "code"} <= kinds and d.n_pages >= 2
    n_chunks = sum(len(chunk_blocks(d.blocks, ChunkSettings(), d.lang)) for d in docs)
    assert 6 <= n_chunks <= 15  # the demo runs a 1.5B model on CPU: few chunks


def test_merged_cells_and_tables_nested_in_slide_panels(tmp_path):
    doc = parse_document(fx.panel_table_pdf(tmp_path / "panels.pdf"))
    tables = {b["text"].split("\n")[0]: b for b in doc.blocks if b["kind"] == "table"}
    assert tables["| Risk | Impact |  |"]["text"].split("\n")[1:] == [
        "| --- | --- | --- |", "|  | Technical | Business |", "| Injection | Data loss | Fines |",
        "| XSS | Session theft | Lost trust |"]
    assert tables["| 风险 | 影响 |  |"]["text"].split("\n")[2:] == [
        "|  | 技术 | 业务 |", "| 注入 | 数据丢失 | 罚款 |", "| 跨站脚本 | 会话劫持 | 失去信任 |"]
    assert tables["| 风险 | 影响 |  |"]["page"] == 2
    paras = [b["text"] for b in doc.blocks if b["kind"] == "paragraph"]
    en = fx.PANEL_TEXT["en"]
    assert en["below"] in paras and en["side"] in paras  # panels are no table; nothing lost
    text = "\n".join(b["text"] for b in doc.blocks)
    assert text.count("Session theft") == 1 and text.count("会话劫持") == 1  # not duplicated
    assert "每份速查表都列出了常见错误" in text and fx.PANEL_TEXT["zh"]["below"] in text
    assert fx.OFF_PAGE_TEXT not in text  # text placed outside the page is not content


def test_grid_keeps_a_label_box_inside_the_table_frame():
    from sftforge.parsing.pdf_grid import grid_tables

    def box(x0, y0, x1, y1):  # the four sides of a stroked box as rules
        return [(x0, y0, x1, y0), (x0, y1, x1, y1)], [(x0, y0, x0, y1), (x1, y0, x1, y1)]

    hs, vs = [], []
    # a header row of three boxes, the middle one holding a smaller label box (a slide's
    # arrow shape) that touches no cell; two cells of data below
    for b in [box(0, 0, 60, 40), box(60, 0, 140, 40), box(140, 0, 200, 40),
              box(70, 10, 130, 30), box(0, 40, 100, 60), box(100, 40, 200, 60)]:
        hs += b[0]
        vs += b[1]
    words = [(70, 14, 130, 26, "Weakness", 0, 0), (10, 44, 50, 56, "App", 1, 0),
             (110, 44, 150, 56, "Easy", 2, 0), (10, 4, 40, 12, "Agents", 3, 0)]
    (rows, bbox), = grid_tables((-2, -2, 202, 62), hs, vs, words)
    texts = [[" ".join(w[4] for w in ws) for ws in row] for row in rows]
    assert bbox == (0, 0, 200, 60)
    assert [t for row in texts for t in row if t] == ["Agents", "Weakness", "App", "Easy"]


def test_rotated_page_keeps_all_its_text(tmp_path):
    path = tmp_path / "rotated.pdf"
    doc = pymupdf.open()
    page = doc.new_page(width=300, height=500)
    for i in range(12):
        page.insert_text((30, 60 + 35 * i), f"Step {i} of the landscape checklist is done.",
                         fontsize=9)
    page.set_rotation(90)
    doc.save(path)
    doc.close()
    text = "\n".join(b["text"] for b in parse_document(path).blocks)
    assert all(f"Step {i} of the landscape checklist" in text for i in range(12))
