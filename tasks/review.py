"""review stage: human verdicts feed the next release, and the audit result feeds the card.

Reads ``reviews`` (latest verdict per sample) and ``audit_samples`` (the drawn audit of a
release). Rejected samples are dropped with reason ``review_rejected``; edits replace the
question / answer and mark the row ``human_edited``. The serving side (web page, export,
import) lives in ``sftforge/review/``.
"""

from __future__ import annotations

import io
import json
from collections import Counter
from pathlib import Path
from typing import Any, ClassVar

from sftforge.cleaning.normalize import normalize_text
from sftforge.review import audit, reviews
from sftforge.review.card import update_release_card
from sftforge.stage import BuildContext, CurationStage

THRESHOLD = 0.95
DROP_REASON = "review_rejected"
# A reviewer's edit is text like any other: normalised here, scrubbed and screened by the
# export's guard (sftforge.cleaning.release_guard); longer than this it is not applied.
EDIT_MAX_CHARS = 20_000


def review_verdicts(db_uri: str) -> dict[str, dict[str, Any]]:
    """sample_id -> latest ``reviews`` row over every release (sample ids are stable)."""
    return reviews.latest(db_uri)


class ReviewStage(CurationStage):
    """``reviews`` -> ``selection``: drops this build's samples a reviewer rejected (the edits
    are applied to the release rows by :func:`apply_reviews`)."""

    name: ClassVar[str] = "review"
    reads: ClassVar[tuple[str, ...]] = ("reviews", "selection")
    writes: ClassVar[str] = "selection"

    def verdicts(self, ctx: BuildContext, sample_ids: list[str]) -> dict[str, str]:
        latest = review_verdicts(ctx.db_uri)
        return {s: DROP_REASON for s in sample_ids
                if latest.get(s, {}).get("verdict") == "reject"}


def review_feedback(db_uri: str, previous: str | None, rows: list[dict[str, Any]],
                    dropped: int) -> dict[str, Any] | None:
    """The card's account of verdicts applied to this release (None when there were none)."""
    if not previous:
        return None
    audit_of = audit_summary(db_uri, previous)
    if not audit_of["reviewed"]:
        return None
    edited = sum(1 for r in rows if r.get("human_edited"))
    return {**audit_of, "dropped": dropped, "edited": edited}


def apply_reviews(rows: list[dict[str, Any]], verdicts: dict[str, dict[str, Any]],
                  ) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """Release rows with verdicts applied: (kept rows with edits, {sample_id: drop reason}).

    ``rows`` are release rows (sample_id, question, answer, ...); a restored one is kept (the
    drop it overrode was skipped in ``selection``, see ``reviews.unless_restored``); an edited
    row gets the reviewer's text where one was given and ``human_edited: True``. Rows are not
    mutated.
    """
    kept, drops = [], {}
    for row in rows:
        v = verdicts.get(row["sample_id"])
        if v is None or v["verdict"] in ("accept", "restore"):
            kept.append(row)
        elif v["verdict"] == "reject":
            drops[row["sample_id"]] = DROP_REASON
        elif v["verdict"] == "edit":
            edited = {**row, "human_edited": True}
            for field in ("question", "answer"):
                if (v.get(field) or "").strip():
                    edited[field] = normalize_text(v[field])
            if too_long := [f for f in ("question", "answer") if len(edited[f]) > EDIT_MAX_CHARS]:
                drops[row["sample_id"]] = f"review_edit_too_long: {too_long[0]}"
                continue
            kept.append(edited)  # scrubbed and screened with every release row (export)
        else:
            raise ValueError(f"reviews row {v.get('review_id')}: unknown verdict {v['verdict']!r}")
    return kept, drops


def audit_summary(db_uri: str, release_version: str, threshold: float = THRESHOLD) -> dict[str, Any]:
    """The audit of one release for the card and ``sftforge releases``.

    Acceptance rate = accepted as-is / reviewed (an edit means the item was not acceptable
    as generated). ``passed`` needs the whole audit reviewed and the rate at the threshold.
    ``status``: ``not reviewed``, ``in review``, ``accepted`` or ``not accepted``.
    """
    sample = [r["sample_id"] for r in audit.audit_rows(db_uri, release_version)]
    latest = reviews.latest(db_uri, release_version)
    done = [latest[s] for s in sample if s in latest]
    counts = Counter(v["verdict"] for v in done)
    rate = counts["accept"] / len(done) if done else None
    complete = bool(sample) and len(done) == len(sample)
    passed = complete and rate is not None and rate >= threshold
    if not done:
        status = "not reviewed"
    elif not complete:
        status = "in review"
    else:
        status = "accepted" if passed else "not accepted"
    return {
        "release": release_version, "sample_size": len(sample), "reviewed": len(done),
        "accepted": counts["accept"], "rejected": counts["reject"], "edited": counts["edit"],
        "acceptance_rate": round(rate, 4) if rate is not None else None,
        "threshold": threshold, "complete": complete, "passed": passed, "status": status,
        "reasons": dict(Counter(v["reason"] for v in done if v["verdict"] == "reject")),
    }


def record_audit(db_uri: str, release_dir: Path) -> dict[str, Any]:
    """Audit summary of the release in ``release_dir``, also written into its card."""
    result = audit_summary(db_uri, release_dir.name)
    update_release_card(release_dir, result)
    return result


def release_list(db_uri: str, releases_dir: Path) -> list[dict[str, Any]]:
    """Every ``releases/v*`` folder: version, created_at, samples, latest, audit status, rate."""
    latest_file = releases_dir / "LATEST"
    latest = latest_file.read_text("utf-8").strip() if latest_file.exists() else ""
    rows = []
    for path in sorted(p for p in releases_dir.glob("v[0-9]*") if p.is_dir()):
        summary_path, samples_path = path / "summary.json", path / "samples.jsonl"
        summary = json.loads(summary_path.read_text("utf-8")) if summary_path.exists() else {}
        with open(samples_path, encoding="utf-8") if samples_path.exists() else _empty() as fh:
            n = sum(1 for line in fh if line.strip())
        result = audit_summary(db_uri, path.name)
        rows.append({"version": path.name, "created_at": summary.get("created_at"), "samples": n,
                     "latest": path.name == latest, "status": result["status"],
                     "acceptance_rate": result["acceptance_rate"],
                     "reviewed": result["reviewed"], "sample_size": result["sample_size"],
                     **release_counts(summary)})
    return rows


def release_counts(summary: dict[str, Any]) -> dict[str, Any]:
    """Counts of a release from its ``summary.json``: documents, splits, LLM requests, cost and
    the diff against the previous release (None where an older summary lacks them)."""
    counts, diff = summary.get("counts", {}), summary.get("diff")
    return {"documents": counts.get("documents"),
            "splits": summary.get("distributions", {}).get("splits", {}),
            "llm_requests": summary.get("llm_requests"), "cost_usd": summary.get("cost_usd"),
            "diff": {k: diff[k] for k in ("added", "removed", "changed")} if diff else None}


def _empty() -> io.StringIO:
    return io.StringIO("")
