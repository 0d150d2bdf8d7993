"""The ``reviews`` table: one row per human verdict, kept as a log (the latest one counts).

Columns: review_id, release_version, sample_id, reviewer, reviewed_at, verdict
(accept | reject | edit | restore), reason (one of :data:`REASONS` for a reject; for a restore
the drop reason it overrides), note (free text), question / answer (the corrected text, edits
only), origin (``web`` or ``import:<file>``).

A restore is a reviewer's word that a build dropped a sample wrongly: the next build keeps it
despite that drop reason (see :func:`restored`), unless another reason drops it.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from pydantic import BaseModel, ValidationError, model_validator

from sftforge import store
from sftforge.ids import sha256_text

VERDICTS = ("accept", "reject", "edit", "restore")
# Drops a reviewer cannot restore: duplicates, quotas and reviewers' own rejects (undo those
# with an accept).
NOT_RESTORABLE = ("dedup", "balance", "review")
# Short on purpose: a reviewer picks one with a digit key; details go in the note.
REASONS = {
    "unfaithful": "answer not supported by the source passage",
    "incorrect": "answer is factually wrong",
    "unclear_question": "question is unclear or ambiguous",
    "incomplete": "answer is incomplete or truncated",
    "off_topic": "not useful for the domain",
    "unsafe_or_pii": "unsafe content or personal data",
    "other": "other (explain in the note)",
}


class Verdict(BaseModel):
    """One reviewer decision on one sample of one release."""

    release_version: str
    sample_id: str
    verdict: str
    reviewer: str
    reason: str = ""
    note: str = ""
    question: str = ""
    answer: str = ""
    reviewed_at: str = ""
    origin: str = "web"

    @model_validator(mode="after")
    def _check(self) -> "Verdict":
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict {self.verdict!r} is not one of {', '.join(VERDICTS)}")
        if self.verdict == "reject" and self.reason not in REASONS:
            raise ValueError(f"a reject needs a reason, one of {', '.join(REASONS)}; "
                             f"got {self.reason!r}")
        if self.verdict == "restore" and not self.reason.strip():
            raise ValueError("a restore names the drop reason it overrides")
        if self.verdict == "edit" and not (self.question.strip() or self.answer.strip()):
            raise ValueError("an edit needs a corrected question or answer")
        if not self.reviewer.strip():
            raise ValueError("the reviewer's name is empty")
        return self


def messages(exc: ValidationError) -> str:
    """The reviewer-facing text of a failed :class:`Verdict` (without pydantic's prefix)."""
    return "; ".join(e["msg"].removeprefix("Value error, ") for e in exc.errors())


def now_utc() -> str:
    """Current UTC time, ISO 8601 with microseconds (sorts as text)."""
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


def record(db_uri: str, verdicts: list[Verdict]) -> int:
    """Append ``verdicts`` to ``reviews``; the same verdict recorded twice stays one row."""
    rows = []
    for v in verdicts:
        row = v.model_dump()
        row["reviewed_at"] = row["reviewed_at"] or now_utc()
        if v.verdict != "edit":  # only an edit carries text; keeps the log unambiguous
            row["question"] = row["answer"] = ""
        if v.verdict not in ("reject", "restore"):
            row["reason"] = ""
        row["review_id"] = sha256_text("|".join(
            row[k] for k in ("release_version", "sample_id", "reviewer", "reviewed_at")))[:16]
        rows.append(row)
    return store.upsert(db_uri, "reviews", rows)


def latest(db_uri: str, release_version: str | None = None) -> dict[str, dict[str, Any]]:
    """sample_id -> its most recent ``reviews`` row (of one release, or of all releases)."""
    where = None
    if release_version is not None:
        where = "release_version = '" + release_version.replace("'", "''") + "'"
    rows = store.read(db_uri, "reviews", where=where).sort(["reviewed_at", "review_id"]).to_dicts()
    return {r["sample_id"]: r for r in rows}  # later rows overwrite earlier ones


def restored(db_uri: str) -> dict[str, str]:
    """sample_id -> the drop reason a reviewer overrode, for samples whose latest verdict (over
    every release) is a restore."""
    return {s: v["reason"] for s, v in latest(db_uri).items() if v["verdict"] == "restore"}


def unless_restored(db_uri: str, stage: str, drops: dict[str, str]) -> dict[str, str]:
    """``drops`` (sample_id -> reason) of ``stage`` without those a reviewer restored for
    that very reason (a stage in :data:`NOT_RESTORABLE` keeps all its drops)."""
    if not drops or stage in NOT_RESTORABLE:
        return drops
    back = restored(db_uri)
    return {s: r for s, r in drops.items() if back.get(s) != r}
