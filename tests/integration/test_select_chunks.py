"""select_chunks on real PDFs (written here with pymupdf) ingested and chunked into a real
LanceDB; then a real build on a Prefect server against the scripted LLM server, where the
skipped chunks cost no request."""

from __future__ import annotations

from pathlib import Path

import pytest

from sftforge.release.card_render import skipped_chunks_section
from flows.build_dataset import BuildParams, build_dataset
from sftforge import store
from sftforge.settings import ChunkSettings, Settings
from tasks.chunk import chunk_document
from tasks.ingest import ingest_file
from tasks.select_chunks import (
    ChunkSelectionSettings,
    select_chunks,
    selected_chunk_ids,
    selection_fingerprint,
    skipped_by_reason,
)
from tests.book_fixtures import EN_KINDS, ZH_KINDS, chinese_book_pdf, english_book_pdf

SKIPPED = {"licence": 2, "toc": 2, "front_matter": 2, "acknowledgements": 2, "references": 2,
           "index": 2}


def _books(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    english_book_pdf(folder / "book_en.pdf")
    chinese_book_pdf(folder / "book_zh.pdf")
    return folder


def _ingest(folder: Path, db: str, chunking: ChunkSettings | None = None) -> list[str]:
    doc_ids = []
    for path in sorted(folder.iterdir()):
        doc = ingest_file(str(path), db)
        assert doc["status"] == "ok", doc["reason"]
        chunk_document(doc["doc_id"], db, chunking or ChunkSettings())
        doc_ids.append(doc["doc_id"])
    return doc_ids


def _rows(db: str, source: str) -> list[dict]:
    rows = store.read(db, "chunk_selection").join(store.read(db, "chunks"), on="chunk_id")
    return rows.filter(rows["source"] == source).sort("idx").to_dicts()


def test_books_keep_body_chapters_and_skip_front_and_back_matter(tmp_path: Path) -> None:
    db = str(tmp_path / "db")
    doc_ids = _ingest(_books(tmp_path / "books"), db)
    stats = select_chunks(db, doc_ids, ChunkSelectionSettings())
    assert (stats["in"], stats["kept"], stats["dropped"]) == (22, 10, SKIPPED)
    for source, kinds in (("book_en.pdf", EN_KINDS), ("book_zh.pdf", ZH_KINDS)):
        rows = _rows(db, source)
        assert [r["kind"] for r in rows] == kinds
        assert [r["selected"] for r in rows] == [k == "body" for k in kinds]
        assert all(r["reason"].split(":")[0] == r["kind"] for r in rows if not r["selected"])
    # body chapters titled like front matter stay: "Introduction", "License compliance risks"
    kept = {r["heading_path"].split(" > ")[-1] for s in ("book_en.pdf", "book_zh.pdf")
            for r in _rows(db, s) if r["selected"]}
    assert {"Introduction", "License compliance risks", "引言", "许可证合规风险"} <= kept
    assert len(selected_chunk_ids(db, doc_ids, stats["fingerprint"])) == 10
    assert selected_chunk_ids(db, doc_ids, "another-fingerprint") == set()


def test_card_summary_lists_skipped_chunks_by_reason_with_examples(tmp_path: Path) -> None:
    db = str(tmp_path / "db")
    doc_ids = _ingest(_books(tmp_path / "books"), db)
    select_chunks(db, doc_ids, ChunkSelectionSettings())
    summary = skipped_by_reason(db, doc_ids, examples=2)
    assert {k: v["count"] for k, v in summary.items()} == SKIPPED
    assert summary["licence"]["examples"] == [
        {"source": "book_en.pdf", "page": 1,
         "text": "Copyright © 2024 Example Press. All rights reserved. This bo"},
        {"source": "book_zh.pdf", "page": 1,
         "text": "本书版权所有，保留所有权利。本书采用知识共享署名-相同方式共享 4.0 许可协议发布。未经出版社书面许可，不得以任何方式"}]
    markdown = skipped_chunks_section(summary)
    assert "| licence | 2 | book_en.pdf p.1: Copyright © 2024" in markdown


def test_keep_kinds_and_force_rules_by_id_and_page_range(tmp_path: Path) -> None:
    db = str(tmp_path / "db")
    doc_ids = _ingest(_books(tmp_path / "books"), db)
    select_chunks(db, doc_ids, ChunkSelectionSettings())
    en = _rows(db, "book_en.pdf")
    foreword, xss = en[2], en[5]
    settings = ChunkSelectionSettings(
        keep_kinds=["licence"], force_in=[foreword["chunk_id"]],
        force_out=[f"book_en.pdf:{xss['page_start']}", "missing.pdf:1-3"])
    stats = select_chunks(db, doc_ids, settings)
    by_id = {r["chunk_id"]: r for r in _rows(db, "book_en.pdf")}
    assert by_id[foreword["chunk_id"]]["selected"]
    assert by_id[foreword["chunk_id"]]["reason"].startswith(f"forced_in: {foreword['chunk_id']}")
    assert not by_id[xss["chunk_id"]]["selected"]
    assert by_id[xss["chunk_id"]]["reason"].startswith("forced_out: book_en.pdf:")
    assert by_id[en[0]["chunk_id"]]["reason"].startswith("kept_kind: licence")
    # 10 body + 2 licence + 1 forced in, minus the chunks on the forced-out page
    on_page = [r for r in en if r["page_start"] <= xss["page_start"] <= r["page_end"]
               and r["kind"] == "body"]
    assert stats["kept"] == 13 - len(on_page)
    assert stats["unmatched_force"] == ["missing.pdf:1-3"]


def test_rechunking_replaces_selection_rows(tmp_path: Path) -> None:
    db = str(tmp_path / "db")
    doc_ids = _ingest(_books(tmp_path / "books"), db)
    select_chunks(db, doc_ids, ChunkSelectionSettings())
    _ingest(tmp_path / "books", db, ChunkSettings(target_tokens=300, max_tokens=600))
    select_chunks(db, doc_ids, ChunkSelectionSettings())
    chunk_ids = set(store.read(db, "chunks")["chunk_id"].to_list())
    assert set(store.read(db, "chunk_selection")["chunk_id"].to_list()) == chunk_ids


NOTICE = ("Stay informed: Example Publishing sends a monthly letter with new titles, errata and "
          "events for readers of its security series; subscribe on the publisher's web site and "
          "read the privacy notice there before you sign up for the letter.")


def test_paragraph_repeated_across_documents_is_boilerplate(tmp_path: Path) -> None:
    folder = tmp_path / "notes"
    folder.mkdir()
    for name, topic in (("a.md", "Clickjacking happens when a page is framed by another site "
                                 "and the user clicks on hidden buttons; frame-ancestors stops it."),
                        ("b.md", "Open redirects send users to any address given in a parameter; "
                                 "an allow-list of destinations stops phishing through them.")):
        body = " ".join([topic] * 3)
        (folder / name).write_text(f"# Note\n\n## Topic\n\n{body}\n\n## News\n\n{NOTICE}\n",
                                   encoding="utf-8")
    db = str(tmp_path / "db")
    doc_ids = _ingest(folder, db)
    stats = select_chunks(db, doc_ids, ChunkSelectionSettings())
    assert stats["dropped"] == {"boilerplate": 2} and stats["kept"] == 2


@pytest.mark.usefixtures("prefect_server")
def test_build_spends_no_request_on_skipped_chunks(llm_env, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    corpus = _books(tmp_path / "corpus")
    # GA pairs off: this test counts one question request per chunk
    baseline = build_dataset(BuildParams(input_path=str(corpus), out_dir=str(tmp_path / "o1"),
                                         select={"enabled": False}, ga={"pairs_per_doc": 0}))
    all_log = list(llm_env.log)
    monkeypatch.setenv("SFTFORGE_HOME", str(tmp_path / "home2"))  # nothing cached
    selected = build_dataset(BuildParams(input_path=str(corpus), out_dir=str(tmp_path / "o2"),
                                         ga={"pairs_per_doc": 0}))
    sel_log = llm_env.log[len(all_log):]

    def sent(log: list[dict], role: str) -> int:
        return sum(r["messages"][0]["content"].startswith(role) for r in log)

    questions, answers = "You write exam questions", "You are a domain expert answering"
    # one question request per chunk (short chunks: 1 question each), one answer per question
    assert (sent(all_log, questions), sent(sel_log, questions)) == (22, 10)
    assert (sent(all_log, answers), sent(sel_log, answers)) == (22, 10)
    assert selected["stages"]["select_chunks"]["items_in"] == 22
    assert selected["stages"]["select_chunks"]["kept"] == 10
    # the judge sees the samples clean and grounding kept (fewer chunks, fewer of those too)
    # plus the 12 planted pairs of its self-check
    for summary, log in ((baseline, all_log), (selected, sel_log)):
        drops = summary["drop_reasons"]
        judged = summary["counts"]["samples"] - sum(drops.get("clean", {}).values()) - sum(
            drops.get("grounding", {}).values())
        tree = sent(log, "You organise a corpus")  # one domain tree request per build
        assert tree == 1
        assert summary["llm_requests"] == len(log) == 2 * sent(log, questions) + judged + 12 + tree
    assert len(sel_log) - 12 <= 3 * 10 + 1 < 2 * 22 < len(all_log) - 12
    assert {k: v["count"] for k, v in selected["skipped_chunks"].items()} == SKIPPED
    assert "skipped_chunks" not in baseline
    card = (Path(selected["release_dir"]) / "README.md").read_text("utf-8")
    assert "## Chunks skipped before question generation" in card
    for reason in SKIPPED:
        assert f"| {reason} | {SKIPPED[reason]} |" in card
