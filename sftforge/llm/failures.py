"""The failure ledger: every item an LLM stage gave up on, with its reason and raw output.

Table ``failures`` (see ``sftforge.schemas``): ``failure_id``, ``stage``, ``item_id``,
``doc_id``, ``error``, ``raw_output``, ``attempts``, ``fingerprint``, ``failed_at``. A failed item
is never a silent null: its row stays until the item succeeds on a later run and the stage
clears it; the dataset card counts the rows by reason category.
"""

from __future__ import annotations

import re
from collections import Counter
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from sftforge import store
from sftforge.ids import child_id

if TYPE_CHECKING:  # only for type hints: the ledger does not need the gateway at runtime
    from sftforge.llm.gateway import LLMResult

TABLE = "failures"
RAW_OUTPUT_CHARS = 4000
# Deletes go out in slices so the SQL predicate stays a reasonable size.
_DELETE_SLICE = 500
# "http 500 after 5 attempts", "timeout after 3 attempts (1s each)" -> "http 500", "timeout".
_CATEGORY_END = re.compile(r":| after \d+ attempts?")


def failure_category(error: str) -> str:
    """Reason category of an error: the text before the first ``:`` (or ``after N attempts``)."""
    return _CATEGORY_END.split(error or "unknown", maxsplit=1)[0].strip() or "unknown"


def record_failures(
    db_uri: str,
    stage: str,
    fingerprint: str,
    results: list[LLMResult],
    doc_ids: dict[str, str] | None = None,
) -> int:
    """Upsert one ``failures`` row per failed result of ``stage``; returns rows written.

    ``failure_id = child_id(item_id, fingerprint, stage)``, so a failure that repeats on the
    next run updates its row. ``doc_ids`` maps item id -> doc_id; successes are ignored.
    """
    failed_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
    rows = [
        {
            "failure_id": child_id(r.item_id, fingerprint, stage),
            "stage": stage,
            "item_id": r.item_id,
            "doc_id": (doc_ids or {}).get(r.item_id, ""),
            "error": r.error or "unknown",
            "raw_output": (r.raw or "")[:RAW_OUTPUT_CHARS],
            "attempts": r.attempts,
            "fingerprint": fingerprint,
            "failed_at": failed_at,
        }
        for r in results
        if not r.ok
    ]
    return store.upsert(db_uri, TABLE, rows)


def clear_failures(db_uri: str, stage: str, item_ids: list[str]) -> None:
    """Delete the ledger rows of ``stage`` for ``item_ids`` (called when those items succeed)."""
    ids = sorted(set(item_ids))
    if not ids or not store.table_exists(db_uri, TABLE):
        return
    stage_sql = "stage = '" + stage.replace("'", "''") + "'"
    for start in range(0, len(ids), _DELETE_SLICE):
        chunk = ids[start : start + _DELETE_SLICE]
        store.delete(db_uri, TABLE, f"{stage_sql} AND {store.sql_in('item_id', chunk)}")


def failure_counts(db_uri: str, stage: str | None = None) -> dict[str, int]:
    """Open failures per reason category (see :func:`failure_category`), optionally of one stage."""
    where = None if stage is None else "stage = '" + stage.replace("'", "''") + "'"
    errors = store.read(db_uri, TABLE, where=where, columns=["error"])["error"].to_list()
    return dict(Counter(failure_category(e) for e in errors).most_common())
