"""What one build did: counts per stage, drop reasons, quarantine, failures, LLM usage.

The flow fills a :class:`BuildReport` as stages finish; the card stage turns it into
``summary.json`` and the dataset card.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Callable

from pydantic import BaseModel, Field

from sftforge import store
from sftforge.llm.failures import failure_category


class ErrorBudgetExceeded(RuntimeError):
    """More LLM items failed than the configured error budget allows."""


class BuildReport(BaseModel):
    """Accumulates the facts of one build run."""

    run_id: str
    db_uri: str
    params: dict[str, Any] = Field(default_factory=dict)
    counts: dict[str, int] = Field(default_factory=dict)
    stages: dict[str, dict[str, Any]] = Field(default_factory=dict)
    drops: dict[str, dict[str, int]] = Field(default_factory=dict)
    quarantined: list[dict[str, str]] = Field(default_factory=list)
    failed_batches: list[dict[str, str]] = Field(default_factory=list)
    failure_rates: dict[str, dict[str, Any]] = Field(default_factory=dict)
    usage: dict[str, int] = Field(default_factory=dict)

    def add(self, key: str, n: int) -> None:
        """Add ``n`` to the count ``key``."""
        self.counts[key] = self.counts.get(key, 0) + n

    def quarantine(self, path: str, doc_id: str, reason: str) -> None:
        """Record a file that was not ingested, with the reason the user sees."""
        self.quarantined.append({"path": path, "doc_id": doc_id, "reason": reason})

    def failed_batch(self, stage: str, batch_id: str, message: str) -> None:
        """Record a batch that ended with failed items (they are in the failure ledger)."""
        self.failed_batches.append({"stage": stage, "batch": batch_id, "message": message})

    def stage(self, name: str, stats: dict[str, Any]) -> None:
        """Keep a stage's stats dict."""
        self.stages[name] = stats

    def drop(self, stage: str, reasons: Counter[str] | dict[str, int]) -> None:
        """Add drop counts by reason for ``stage``."""
        bucket = self.drops.setdefault(stage, {})
        for reason, n in reasons.items():
            bucket[reason] = bucket.get(reason, 0) + int(n)

    def check_error_budget(self, stage: str, items: list[str], fp: str, budget: float) -> None:
        """Raise :class:`ErrorBudgetExceeded` if the stage's ledger failures exceed ``budget``."""
        if not items:
            return
        ledger = store.read(
            self.db_uri, "failures", where=f"stage = '{stage}' AND fingerprint = '{fp}'"
        )
        failed = ledger.filter(ledger["item_id"].is_in(items))
        reasons = Counter(failure_category(e) for e in failed["error"].to_list())
        rate = failed.height / len(items)
        self.failure_rates[stage] = {"items": len(items), "failed": failed.height,
                                     "rate": round(rate, 4), "reasons": dict(reasons)}
        if rate > budget:
            raise ErrorBudgetExceeded(
                f"{stage}: {failed.height} of {len(items)} items failed ({rate:.0%} > error budget "
                f"{budget:.0%}); reasons: {dict(reasons)}. The failed items are in the failures "
                "table (`sftforge status`); fix the endpoint or raise SFTFORGE_ERROR_BUDGET, then "
                "build again: finished items are not paid for twice."
            )

    def kept_after_clean(self, db_uri: str, sample_ids: list[str]) -> set[str]:
        """Ids kept by the clean stage; drop reasons recorded."""
        rows = store.read(db_uri, "clean_samples", where=store.sql_in("sample_id", sample_ids),
                          columns=["sample_id", "kept", "reason"])
        self.drop("clean", Counter(r for r in rows.filter(~rows["kept"])["reason"].to_list()))
        return set(rows.filter(rows["kept"])["sample_id"].to_list())

    def apply_thresholds(
        self, kept: set[str], scores: dict[str, dict], settings: Any,
        rule: Callable[[dict | None, Any], tuple[bool, str]],
    ) -> set[str]:
        """Apply judge thresholds to stored scores (no LLM call); drop reasons recorded."""
        out, reasons = set(), Counter()
        for sample_id in sorted(kept):
            ok, reason = rule(scores.get(sample_id), settings)
            if ok:
                out.add(sample_id)
            else:
                reasons[reason] += 1
        self.drop("judge", reasons)
        self.counts["judged"] = len(scores)
        return out

    def kept_after_dedup(self, db_uri: str, sample_ids: list[str]) -> list[str]:
        """Ids that are the kept member of their duplicate cluster; drop reasons recorded."""
        rows = store.read(db_uri, "dedup_clusters", where=store.sql_in("sample_id", sample_ids))
        kept = set(rows.filter(rows["kept"])["sample_id"].to_list())
        dups = rows.filter(~rows["kept"])
        self.drop("dedup", Counter(f"duplicate_{m}" for m in dups["method"].to_list()))
        # Rows the dedup stage did not see (should not happen) are kept, never silently lost.
        seen = set(rows["sample_id"].to_list())
        return sorted(kept | {s for s in sample_ids if s not in seen})

    def split_rows(self, db_uri: str, sample_ids: list[str]) -> list[dict[str, Any]]:
        """Rows for the split stage: sample, document, duplicate cluster and leak group."""
        samples = store.read(db_uri, "samples", where=store.sql_in("sample_id", sample_ids),
                             columns=["sample_id", "doc_id"])
        where = store.sql_in("sample_id", sample_ids)
        clusters = store.read(db_uri, "dedup_clusters", where=where, columns=["sample_id", "cluster_id"])
        groups = store.read(db_uri, "dedup_groups", where=where, columns=["sample_id", "group_id"])
        cluster_of = dict(zip(clusters["sample_id"].to_list(), clusters["cluster_id"].to_list()))
        group_of = dict(zip(groups["sample_id"].to_list(), groups["group_id"].to_list()))
        return [{"sample_id": s, "doc_id": d, "cluster_id": cluster_of.get(s),
                 "group_id": group_of.get(s)}
                for s, d in samples.sort("sample_id").select(["sample_id", "doc_id"]).iter_rows()]
