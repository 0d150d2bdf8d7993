"""The pairs the LLM checks read: this build's cleaned samples with their source passage.

Input tables: ``clean_samples`` (kept rows), ``samples`` (chunk and document of each sample),
``chunks`` (the passage ``text``). Output: one dict per sample, sorted by chunk then sample id,
so requests about one passage go back to back and a server's prompt cache reuses it.
"""

from __future__ import annotations

from typing import Any

from sftforge import store


def pair_inputs(db_uri: str, sample_ids: list[str]) -> list[dict[str, Any]]:
    """Cleaned kept samples (sample_id, question, answer, ...) joined with their source chunk
    (``doc_id``, ``chunk_id``, ``text``), sorted by chunk then sample id."""
    if not sample_ids:
        return []
    clean = store.read(db_uri, "clean_samples", where=store.sql_in("sample_id", sample_ids))
    clean = clean.filter(clean["kept"])
    links = store.read(db_uri, "samples", where=store.sql_in("sample_id", sample_ids),
                       columns=["sample_id", "chunk_id", "doc_id"])
    chunk_ids = links["chunk_id"].unique().to_list()
    chunks = store.read(db_uri, "chunks", where=store.sql_in("chunk_id", chunk_ids),
                        columns=["chunk_id", "text"])
    frame = clean.drop("fingerprint").join(links, on="sample_id").join(chunks, on="chunk_id")
    return frame.sort(["chunk_id", "sample_id"]).to_dicts()
