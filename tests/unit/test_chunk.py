"""tasks.chunk: structure-aware chunking on English and Chinese blocks, and the stage on LanceDB."""

import json
from pathlib import Path

import pytest

from sftforge import store
from sftforge.settings import ChunkSettings
from sftforge.text import estimate_tokens
from tasks.chunk import chunk_blocks, chunk_document, chunk_fingerprint
from tasks.ingest import ingest_file

SETTINGS = ChunkSettings(target_tokens=120, max_tokens=200, min_tokens=30, overlap_sentences=0)

EN_SENTENCES = [
    f"Sentence {i} explains how attackers abuse input number {i} to reach the database."
    for i in range(40)
]
TABLE = "| Attack | Defense |\n| --- | --- |\n" + "\n".join(
    f"| attack {i} | defense {i} with a longer description |" for i in range(25))
CODE = "\n".join(f"    query_{i} = db.execute('SELECT * FROM t WHERE id = ?', (uid,))"
                 for i in range(30))


def heading(text: str, level: int, page: int) -> dict:
    return {"kind": "heading", "text": text, "page": page, "level": level}


def para(text: str, page: int) -> dict:
    return {"kind": "paragraph", "text": text, "page": page}


def english_blocks() -> list[dict]:
    return [
        heading("Security Guide", 1, 1),
        heading("Injection", 2, 1),
        para(" ".join(EN_SENTENCES[:12]), 1),
        heading("SQL", 3, 2),
        para(" ".join(EN_SENTENCES[12:20]), 2),
        {"kind": "table", "text": TABLE, "page": 2},
        para(" ".join(EN_SENTENCES[20:26]), 3),
        {"kind": "code", "text": CODE, "page": 3},
        heading("Sessions", 2, 4),
        para(" ".join(EN_SENTENCES[26:40]), 4),
        {"kind": "formula", "text": "$$ p = 1 - (1 - 2^{-128})^n $$", "page": 5},
    ]


def test_tables_and_code_are_never_split():
    chunks = chunk_blocks(english_blocks(), SETTINGS, "en")
    with_table = [c for c in chunks if "| attack 0 |" in c["text"]]
    assert len(with_table) == 1 and TABLE in with_table[0]["text"]
    with_code = [c for c in chunks if "query_0" in c["text"]]
    assert len(with_code) == 1 and f"```\n{CODE}\n```" in with_code[0]["text"]
    assert estimate_tokens(CODE) > SETTINGS.max_tokens  # oversized: a chunk of its own
    assert with_code[0]["text"].strip().startswith("```")
    assert sum("$$ p = 1" in c["text"] for c in chunks) == 1


def test_sizes_within_bounds_and_sentences_whole():
    chunks = chunk_blocks(english_blocks(), SETTINGS, "en")
    assert len(chunks) >= 5
    for c in chunks:
        atomic = "```" in c["text"] or "| --- |" in c["text"]
        assert c["n_tokens"] == estimate_tokens(c["text"])
        assert c["n_tokens"] >= SETTINGS.min_tokens
        assert atomic or c["n_tokens"] <= SETTINGS.max_tokens
    text = "\n".join(c["text"] for c in chunks)
    for s in EN_SENTENCES:  # every sentence lands whole in some chunk
        assert s in text


def test_heading_paths_pages_and_top_level_boundaries():
    chunks = chunk_blocks(english_blocks(), SETTINGS, "en")
    paths = [c["heading_path"] for c in chunks]
    assert paths[0] == "Security Guide > Injection"
    assert any(p == "Security Guide > Injection > SQL" for p in paths)
    assert paths[-1] == "Security Guide > Sessions"
    # "Injection" and "Sessions" are the top level used twice: no chunk mixes them
    for c in chunks:
        assert not ("Sentence 25 " in c["text"] and "Sentence 26 " in c["text"])
    table_chunk = next(c for c in chunks if "| attack 0 |" in c["text"])
    assert (table_chunk["page_start"], table_chunk["page_end"]) == (2, 2)
    assert chunks[0]["page_start"] == 1 and chunks[-1]["page_end"] == 5
    assert all(c["page_start"] <= c["page_end"] for c in chunks)


def test_chinese_splits_at_cjk_sentence_ends():
    sentences = [f"第{i}条规则说明攻击者如何利用输入参数访问数据库中的敏感信息并绕过访问控制检查。"
                 for i in range(30)]
    sentences[5] = sentences[5][:-1] + "！"
    sentences[9] = sentences[9][:-1] + "；"
    blocks = [heading("网络安全", 1, 1), para("".join(sentences), 1),
              {"kind": "table", "text": "| 类型 | 说明 |\n| --- | --- |\n| 反射型 | 请求 |", "page": 2}]
    chunks = chunk_blocks(blocks, SETTINGS, "zh")
    assert len(chunks) >= 3
    for c in chunks:
        assert c["heading_path"] == "网络安全"
        body = c["text"].split("\n")[-1]
        assert body[-1] in "。！？；|", body[-20:]
        assert c["n_tokens"] <= SETTINGS.max_tokens
    joined = "".join(c["text"] for c in chunks)
    assert all(s in joined for s in sentences)


def test_small_trailing_piece_is_merged():
    blocks = [heading("A", 1, 1), para(" ".join(EN_SENTENCES[:9]), 1), para("Short tail.", 2)]
    chunks = chunk_blocks(blocks, SETTINGS, "en")
    assert all(c["n_tokens"] >= SETTINGS.min_tokens for c in chunks)
    assert chunks[-1]["text"].endswith("Short tail.") and chunks[-1]["page_end"] == 2


def test_tiny_sections_merge_across_top_level():
    blocks = [heading("A", 1, 1), para("Only a few words here.", 1),
              heading("B", 1, 2), para("And a few more words.", 2)]
    chunks = chunk_blocks(blocks, SETTINGS, "en")
    assert len(chunks) == 1
    assert chunks[0]["heading_path"] == ""
    assert (chunks[0]["page_start"], chunks[0]["page_end"]) == (1, 2)
    assert "# A" in chunks[0]["text"] and "# B" in chunks[0]["text"]


def test_run_on_text_without_punctuation_is_cut_to_size():
    run_on = "漏洞" * 400  # 800 CJK characters, no sentence end
    chunks = chunk_blocks([para(run_on, 1)], SETTINGS, "zh")
    assert len(chunks) >= 4
    assert all(c["n_tokens"] <= SETTINGS.max_tokens for c in chunks)
    assert "".join(c["text"] for c in chunks) == run_on


def test_overlap_repeats_last_sentence():
    settings = SETTINGS.model_copy(update={"overlap_sentences": 1})
    chunks = chunk_blocks([heading("A", 1, 1), para(" ".join(EN_SENTENCES[:20]), 1)],
                          settings, "en")
    assert len(chunks) >= 2
    last_sentence = chunks[0]["text"].split("\n")[-1].split(". ")[-1]
    assert chunks[1]["text"].startswith(last_sentence)
    assert all(c["n_tokens"] <= settings.max_tokens for c in chunks)


@pytest.fixture()
def db(tmp_path: Path) -> str:
    return str(tmp_path / "lancedb")


def test_chunk_document_writes_rows_and_replaces_stale_ones(tmp_path: Path, db: str):
    md = tmp_path / "guide.md"
    md.write_text("# Guide\n\n## Part A\n\n" + " ".join(EN_SENTENCES[:20]) + "\n\n## Part B\n\n"
                  + " ".join(EN_SENTENCES[20:]) + "\n", encoding="utf-8")
    doc_id = ingest_file(str(md), db)["doc_id"]
    stats = chunk_document(doc_id, db, SETTINGS)
    rows = store.read(db, "chunks").sort("idx").to_dicts()
    assert stats["chunks"] == len(rows) == len(stats["chunk_ids"]) >= 4
    assert [r["chunk_id"] for r in rows] == stats["chunk_ids"]
    assert {r["doc_id"] for r in rows} == {doc_id} and rows[0]["source"] == "guide.md"
    assert rows[0]["heading_path"] == "Guide > Part A" and rows[0]["lang"] == "en"
    ingest_fp = store.read(db, "documents").to_dicts()[0]["fingerprint"]
    assert rows[0]["fingerprint"] == chunk_fingerprint(SETTINGS, ingest_fp)

    again = chunk_document(doc_id, db, SETTINGS)  # same settings: same ids, no duplicates
    assert again["chunk_ids"] == stats["chunk_ids"] and store.count(db, "chunks") == len(rows)

    bigger = SETTINGS.model_copy(update={"target_tokens": 400, "max_tokens": 600})
    third = chunk_document(doc_id, db, bigger)
    left = store.read(db, "chunks").to_dicts()
    assert len(left) == third["chunks"] < len(rows)
    assert {r["fingerprint"] for r in left} == {chunk_fingerprint(bigger, ingest_fp)}


def test_chunk_document_skips_quarantined(tmp_path: Path, db: str):
    bad = tmp_path / "empty.md"
    bad.write_text("   \n", encoding="utf-8")
    doc_id = ingest_file(str(bad), db)["doc_id"]
    assert chunk_document(doc_id, db, SETTINGS) == {"doc_id": doc_id, "chunks": 0, "chunk_ids": []}
    doc = store.read(db, "documents").to_dicts()[0]
    assert doc["status"] == "quarantined" and json.loads(doc["blocks"]) == []
