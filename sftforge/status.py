"""``sftforge status``: what the data home holds, read from LanceDB."""

from __future__ import annotations

from typing import Any

from sftforge import store
from sftforge.llm.failures import failure_counts
from sftforge.schemas import TABLES
from sftforge.settings import Settings


def collect_status(settings: Settings | None = None) -> dict[str, Any]:
    """{documents, samples, failures, quarantined, tables, failures_by_reason}.

    Input tables: documents, samples, failures (and every other stage table for ``tables``).
    """
    settings = settings or Settings()
    uri = settings.db_uri
    docs = store.read(uri, "documents", columns=["doc_id", "path", "status", "reason"])
    quarantined = docs.filter(docs["status"] != "ok").sort("path")
    return {
        "documents": docs.filter(docs["status"] == "ok").height,
        "samples": store.count(uri, "samples"),
        "failures": store.count(uri, "failures"),
        "quarantined": [{"path": r["path"], "doc_id": r["doc_id"], "reason": r["reason"]}
                        for r in quarantined.to_dicts()],
        "tables": {name: store.count(uri, name) for name in TABLES},
        "failures_by_reason": failure_counts(uri),
    }
