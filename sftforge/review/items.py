"""What a reviewer sees per item: the sample next to its source passage (Markdown rendered,
cited spans marked), its citations, each check's value and why it was kept.

Input: release rows (``samples.jsonl``: sample_id, doc_id, source, page, question, answer,
cot, split, chunk_id, citations [{quote, start, end}], qtype, difficulty, scores), the
``chunks`` table (chunk_id, text, heading_path, page_start, page_end), the release's
``summary.json`` and, for dropped samples, the ``selection``, ``samples`` and ``clean_samples``
tables (see ``sftforge.review.evidence``).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from sftforge import store
from sftforge.jsonl import read_jsonl
from sftforge.review.audit import ReviewError
from sftforge.review.evidence import checks_of, dropped_groups, kept_reasons, release_summary
from sftforge.review.passage import passage_html


def _chunks(db_uri: str, rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    chunk_ids = sorted({r.get("chunk_id") or "" for r in rows} - {""})
    return {c["chunk_id"]: c for c in store.read(
        db_uri, "chunks", where=store.sql_in("chunk_id", chunk_ids)).to_dicts()}


def load_items(db_uri: str, release_dir: Path, sample_ids: list[str]) -> list[dict[str, Any]]:
    """One display item per audit sample id, in audit order, with its source passage, its
    checks and why it was kept."""
    rows = {r["sample_id"]: r for r in read_jsonl(release_dir / "samples.jsonl")}
    missing = [s for s in sample_ids if s not in rows]
    if missing:
        raise ReviewError(f"{release_dir / 'samples.jsonl'} lacks audit samples {missing[:3]}: "
                          "the release folder was changed after the audit was drawn")
    chunks = _chunks(db_uri, [rows[s] for s in sample_ids])
    checks = checks_of(db_uri, release_summary(release_dir), sample_ids,
                       {s: rows[s].get("scores") or {} for s in sample_ids})
    items = []
    for s in sample_ids:
        item = _item(rows[s], chunks.get(rows[s].get("chunk_id") or ""))
        item["checks"] = checks.get(s, [])
        item["kept_because"] = kept_reasons(item["checks"], {**rows[s],
                                                             "heading_path": item["heading_path"]})
        items.append(item)
    return items


def _sample_rows(db_uri: str, sample_ids: list[str]) -> dict[str, dict[str, Any]]:
    """sample_id -> ``samples`` row with its cleaned text (``clean_samples``) where there is
    one, citations parsed."""
    where = store.sql_in("sample_id", sample_ids)
    base = {r["sample_id"]: r for r in store.read(db_uri, "samples", where=where).to_dicts()}
    clean = store.read(db_uri, "clean_samples", where=where,
                       columns=["sample_id", "question", "answer", "citations"]).to_dicts()
    for c in clean:
        if c["sample_id"] in base:
            base[c["sample_id"]].update({k: v for k, v in c.items() if v})
    for row in base.values():
        raw = row.get("citations") or "[]"
        row["citations"] = json.loads(raw) if isinstance(raw, str) else raw
    return base


def load_dropped(db_uri: str, release_dir: Path, limit: int = 50) -> list[dict[str, Any]]:
    """The samples the release's build dropped, grouped by (stage, reason), largest group
    first: [{stage, reason, count, restorable, items}] (at most ``limit`` items a group)."""
    summary = release_summary(release_dir)
    groups = dropped_groups(db_uri, summary, limit)
    ids = [s for g in groups for s in g["ids"]]
    if not ids:
        return groups
    rows = _sample_rows(db_uri, ids)
    chunks = _chunks(db_uri, list(rows.values()))
    checks = checks_of(db_uri, summary, ids)
    for g in groups:
        g["items"] = [{**_item(rows[s], chunks.get(rows[s].get("chunk_id") or "")),
                       "checks": checks.get(s, []), "drop_reason": g["reason"]}
                      for s in g["ids"] if s in rows]
    return groups


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
        "passage_html": passage_html((chunk or {}).get("text") or "", citations),
        "passage_missing": chunk is None,
    }
