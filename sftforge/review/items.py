"""What a reviewer sees per audit item: the sample next to its source passage and citations.

Input: release rows (``samples.jsonl``: sample_id, doc_id, source, page, question, answer,
cot, split, chunk_id, citations [{quote, start, end}], qtype, difficulty) and the ``chunks``
table (chunk_id, text, heading_path, page_start, page_end).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from sftforge import store
from sftforge.jsonl import read_jsonl
from sftforge.review.audit import ReviewError


def passage_segments(text: str, citations: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The chunk text cut into [{text, cited}] pieces, cited spans marked.

    Citation offsets index the whitespace-collapsed chunk text (see tasks/answers.py
    ``locate_citations``), so the passage is shown collapsed too; unlocated quotes
    (start = -1) are listed apart by the page.
    """
    flat = re.sub(r"\s+", " ", text or "")
    spans = sorted((c["start"], c["end"]) for c in citations
                   if isinstance(c.get("start"), int) and 0 <= c["start"] < c.get("end", -1) <= len(flat))
    segments, pos = [], 0
    for start, end in spans:
        start = max(start, pos)  # overlapping quotes: mark the union once
        if start >= end:
            continue
        if start > pos:
            segments.append({"text": flat[pos:start], "cited": False})
        segments.append({"text": flat[start:end], "cited": True})
        pos = end
    if pos < len(flat):
        segments.append({"text": flat[pos:], "cited": False})
    return segments


def load_items(db_uri: str, release_dir: Path, sample_ids: list[str]) -> list[dict[str, Any]]:
    """One display item per audit sample id, in audit order, with its source passage."""
    rows = {r["sample_id"]: r for r in read_jsonl(release_dir / "samples.jsonl")}
    missing = [s for s in sample_ids if s not in rows]
    if missing:
        raise ReviewError(f"{release_dir / 'samples.jsonl'} lacks audit samples {missing[:3]}: "
                          "the release folder was changed after the audit was drawn")
    chunk_ids = sorted({rows[s].get("chunk_id") or "" for s in sample_ids} - {""})
    chunks = {c["chunk_id"]: c for c in store.read(
        db_uri, "chunks", where=store.sql_in("chunk_id", chunk_ids)).to_dicts()}
    return [_item(rows[s], chunks.get(rows[s].get("chunk_id") or "")) for s in sample_ids]


def _item(row: dict[str, Any], chunk: dict[str, Any] | None) -> dict[str, Any]:
    citations = row.get("citations") or []
    pages = ""
    if chunk:
        pages = str(chunk["page_start"]) if chunk["page_start"] == chunk["page_end"] \
            else f"{chunk['page_start']}-{chunk['page_end']}"
    return {
        "sample_id": row["sample_id"], "doc_id": row.get("doc_id"), "chunk_id": row.get("chunk_id"),
        "source": row.get("source"),
        "page": row.get("page"), "pages": pages, "split": row.get("split"),
        "qtype": row.get("qtype"), "difficulty": row.get("difficulty"),
        "question": row.get("question") or "", "answer": row.get("answer") or "",
        "cot": row.get("cot") or "", "citations": citations,
        "heading_path": (chunk or {}).get("heading_path") or "",
        "passage": re.sub(r"\s+", " ", (chunk or {}).get("text") or ""),
        "segments": passage_segments((chunk or {}).get("text") or "", citations),
        "passage_missing": chunk is None,
    }
