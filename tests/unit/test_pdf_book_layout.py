"""Book pages the project's renderer never makes (tests/pdf_fixtures.py ``book_pdf``): two
columns, running heads that change with the chapter, "Page N of M" footers, footnotes, a
sentence across a page break and ligature glyphs, in English and Chinese, through the plain
ingest and chunk functions on a real LanceDB."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from sftforge import store
from sftforge.settings import ChunkSettings
from tasks.chunk import chunk_document
from tasks.ingest import ingest_file
from tests.pdf_fixtures import BOOK, book_pdf

LIGATURES = {"ﬁ": "fi", "ﬂ": "fl"}


def _flat(text: str, lang: str) -> str:
    """Whitespace-insensitive form (Chinese has no spaces between words, English one)."""
    return re.sub(r"\s+", "" if lang == "zh" else " ", text).strip()


def _expected_sentences(lang: str) -> list[list[str]]:
    """Body sentences per page as a reader sees them: ligatures spelled out, the sentence cut
    by the page break whole (on the page where it starts)."""
    book, pages = BOOK[lang], []
    for n in range(len(book["columns"]) // 2):
        parts = [p for p in book["columns"][2 * n] + book["columns"][2 * n + 1]
                 if p not in book["chapters"]]
        pages.append([re.sub("[ﬁﬂ]", lambda m: LIGATURES[m.group()], p) for p in parts])
    glue = "" if lang == "zh" else " "
    pages[0][-1] += glue + pages[1].pop(0)  # "...user values travel" + "as parameters..."
    return pages


@pytest.fixture(scope="module", params=["en", "zh"])
def ingested(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    lang, folder = request.param, tmp_path_factory.mktemp(f"book-{request.param}")
    db = str(folder / "lancedb")
    result = ingest_file(str(book_pdf(folder / f"book_{lang}.pdf", lang)), db)
    assert result["status"] == "ok", result["reason"]
    chunk_document(result["doc_id"], db, ChunkSettings())
    doc = store.read(db, "documents").to_dicts()[0]
    chunks = store.read(db, "chunks").sort("idx").to_dicts()
    return lang, json.loads(doc["blocks"]), chunks


def _positions(text: str, needles: list[str]) -> list[int]:
    """Where each needle first occurs in ``text`` (-1 when absent)."""
    return [text.find(n) for n in needles]


def test_columns_are_read_in_order_and_the_cut_sentence_is_whole(ingested) -> None:
    lang, blocks, chunks = ingested
    sentences = [_flat(s, lang) for page in _expected_sentences(lang) for s in page]
    for text in ("\n".join(b["text"] for b in blocks), "\n".join(c["text"] for c in chunks)):
        at = _positions(_flat(text, lang), sentences)
        assert -1 not in at, [s for s, i in zip(sentences, at) if i < 0]
        assert at == sorted(at)


def test_running_heads_and_page_footers_are_dropped(ingested) -> None:
    lang, blocks, chunks = ingested
    book = BOOK[lang]
    heads = [(b["text"], b["page"]) for b in blocks if b["kind"] == "heading"]
    assert heads == [(book["chapters"][0], 1), (book["chapters"][1], 4)]
    body = "\n".join(b["text"] for b in blocks if b["kind"] != "heading")
    assert not any(title in body for title in book["chapters"])  # no running head left
    for text in (body, "\n".join(c["text"] for c in chunks)):
        footers = [book["footer"].format(n=n, total=6) for n in range(1, 7)]
        assert [f for f in footers if _flat(f, lang) in _flat(text, lang)] == []
        assert re.search(r"\b[Pp]age \d|第\s*\d+\s*页", text) is None


def test_footnotes_close_their_page(ingested) -> None:
    lang, blocks, chunks = ingested
    pages, notes = _expected_sentences(lang), BOOK[lang]["footnotes"]
    for text in ("\n".join(b["text"] for b in blocks), "\n".join(c["text"] for c in chunks)):
        flat = _flat(text, lang)
        for page, note in notes.items():
            last_here = flat.find(_flat(pages[page - 1][-1], lang))
            first_next = flat.find(_flat(pages[page][0], lang))
            assert last_here < flat.find(_flat(note, lang)) < first_next, note
    assert [b["page"] for b in blocks if b["text"] in notes.values()] == sorted(notes)


def test_ligatures_are_spelled_out(ingested) -> None:
    lang, blocks, chunks = ingested
    text = "\n".join(b["text"] for b in blocks) + "\n".join(c["text"] for c in chunks)
    assert not set(text) & set(LIGATURES)
    assert "firewall" in text and ("identifier" in text if lang == "en" else "flow" in text)
