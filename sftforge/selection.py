"""Which samples a build keeps, as data: one ``selection`` row per (build, sample).

Table ``selection``: ``selection_id`` (hash of run id + sample id), ``run_id``, ``sample_id``,
``doc_id``, ``stage`` (the stage that dropped it, or where it entered), ``kept``, ``reason``.
The curation stages read this build's kept samples and record their drops here; the card's
funnel and drop reasons are a group-by over it.
"""

from __future__ import annotations

from typing import Any

from sftforge import store
from sftforge.ids import child_id

TABLE = "selection"
_SLICE = 2000  # ids per upsert, so one write never holds every row of a large build


def _rows(run_id: str, stage: str, items: dict[str, str], kept: bool,
          docs: dict[str, str] | None = None) -> list[dict[str, Any]]:
    return [{"selection_id": child_id(run_id, "selection", sid), "run_id": run_id,
             "sample_id": sid, "doc_id": (docs or {}).get(sid, ""), "stage": stage,
             "kept": kept, "reason": reason} for sid, reason in sorted(items.items())]


def seed(db_uri: str, run_id: str, stage: str, docs: dict[str, str]) -> int:
    """Enter samples (sample_id -> doc_id) as this build's candidates; returns how many."""
    rows = _rows(run_id, stage, {s: "" for s in docs}, True, docs)
    for start in range(0, len(rows), _SLICE):
        store.upsert(db_uri, TABLE, rows[start:start + _SLICE])
    return len(rows)


def _frame(db_uri: str, run_id: str) -> Any:
    safe = run_id.replace("'", "''")
    return store.read(db_uri, TABLE, where=f"run_id = '{safe}'")


def kept(db_uri: str, run_id: str) -> list[str]:
    """Ids of this build's samples that no stage has dropped, sorted."""
    frame = _frame(db_uri, run_id)
    return sorted(frame.filter(frame["kept"])["sample_id"].to_list())


def entered(db_uri: str, run_id: str) -> list[str]:
    """Ids of every sample this build started curation with, sorted."""
    return sorted(_frame(db_uri, run_id)["sample_id"].to_list())


def reached(db_uri: str, run_id: str, later: set[str]) -> list[str]:
    """Ids of this build's samples that were still kept when the first of the ``later`` stages
    ran (kept, or dropped by one of them), sorted."""
    frame = _frame(db_uri, run_id)
    frame = frame.filter(frame["kept"] | frame["stage"].is_in(sorted(later)))
    return sorted(frame["sample_id"].to_list())


def drop(db_uri: str, run_id: str, stage: str, reasons: dict[str, str]) -> None:
    """Record that ``stage`` dropped these samples (sample_id -> reason) in this build."""
    if not reasons:
        return
    frame = _frame(db_uri, run_id)
    docs = dict(zip(frame["sample_id"].to_list(), frame["doc_id"].to_list()))
    rows = _rows(run_id, stage, reasons, False, docs)
    for start in range(0, len(rows), _SLICE):
        store.upsert(db_uri, TABLE, rows[start:start + _SLICE])


def funnel(db_uri: str, run_id: str) -> dict[str, dict[str, int]]:
    """stage -> {reason: dropped samples} for this build (a group-by over ``selection``)."""
    frame = _frame(db_uri, run_id)
    dropped = frame.filter(~frame["kept"]).group_by(["stage", "reason"]).len()
    out: dict[str, dict[str, int]] = {}
    for row in dropped.sort(["stage", "reason"]).iter_rows(named=True):
        out.setdefault(row["stage"], {})[row["reason"]] = int(row["len"])
    return out
