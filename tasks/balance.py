"""balance stage: this build's kept samples -> ``selection`` drops with reason ``over_quota``.

Cells are (domain node, question type, difficulty). The target share of a cell is the product
of its weights (``BalanceSettings.weights``, default 1: as even as the material allows),
normalised over the cells that have samples: an empty cell cannot be filled without inventing
samples, so it takes no share. Quotas (:func:`quotas`): the largest kept set in which no cell
holds more than ``max_share_ratio`` x its target share of the kept samples (tolerance: one
sample of rounding); cells under their share keep everything. If that would drop more than
``1 - min_keep_fraction`` of the samples, quotas are water-filled at that size instead (the most
even mix of that many samples). Within a cell the lowest judge scores are dropped first.
Builds with fewer than ``min_samples`` kept samples are not balanced.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

from pydantic import BaseModel, Field

from sftforge import store
from sftforge.stage import BuildContext, CurationStage
from tasks.judge import rank_scores
from tasks.tag_nodes import current_tags

Cell = tuple[str, str, str]  # (domain node, qtype, difficulty)
REASON = "over_quota"


class BalanceSettings(BaseModel):
    """Quotas over domain node x question type x difficulty."""

    enabled: bool = True
    # "qtype:code": 0.5, "difficulty:hard": 2, "node:<node_id>": 1 ... (missing: 1)
    weights: dict[str, float] = Field(default_factory=dict)
    max_share_ratio: float = Field(1.5, ge=1.0)
    min_keep_fraction: float = Field(0.5, ge=0.0, le=1.0)
    # Under this many kept samples nothing is dropped: a cell's excess is then a sample or two
    # of chance, and cutting it only shrinks a small dataset (8 chunks of a demo lost a third).
    min_samples: int = Field(30, ge=0)


def targets(cells: list[Cell], weights: dict[str, float]) -> dict[Cell, float]:
    """Target share of each cell: product of its weights, normalised over ``cells``."""
    raw = {c: weights.get(f"node:{c[0]}", 1.0) * weights.get(f"qtype:{c[1]}", 1.0)
           * weights.get(f"difficulty:{c[2]}", 1.0) for c in cells}
    total = sum(raw.values()) or 1.0
    return {c: v / total for c, v in raw.items()}


def _water_fill(counts: dict[Cell, int], share: dict[Cell, float], keep: int) -> dict[Cell, int]:
    """Most even quotas (``min(n, floor(level * share))``) keeping at least ``keep`` samples."""
    lo, hi = 0.0, float(sum(counts.values())) / min(share.values())
    for _ in range(60):
        mid = (lo + hi) / 2
        if sum(min(n, math.floor(mid * share[c])) for c, n in counts.items()) >= keep:
            hi = mid
        else:
            lo = mid
    return {c: min(n, math.floor(hi * share[c])) for c, n in counts.items()}


def quotas(counts: dict[Cell, int], weights: dict[str, float], ratio: float,
           min_keep_fraction: float) -> dict[Cell, int]:
    """Samples to keep per cell (see the module docstring); every non-empty cell keeps >= 1."""
    counts = {c: n for c, n in counts.items() if n > 0}
    if not counts:
        return {}
    share, total = targets(list(counts), weights), sum(counts.values())
    kept = total
    while True:  # shrinks monotonically to the largest set within the ratio
        q = {c: min(n, max(1, math.floor(ratio * share[c] * kept))) for c, n in counts.items()}
        if sum(q.values()) == kept:
            break
        kept = sum(q.values())
    floor_keep = math.ceil(min_keep_fraction * total)
    return q if kept >= floor_keep else _water_fill(counts, share, floor_keep)


def sample_cells(db_uri: str, sample_ids: list[str]) -> dict[str, Cell]:
    """sample_id -> (domain node of its question, qtype, difficulty); node "" when untagged.

    Type and difficulty are the observed ones (``clean_samples``, read off the pair by
    ``sftforge.cleaning.labels``), the plan's (``samples``) for a sample not cleaned yet."""
    where = store.sql_in("sample_id", sample_ids)
    rows = store.read(db_uri, "samples", columns=["sample_id", "question_id", "qtype",
                                                  "difficulty"], where=where).to_dicts()
    seen = {r["sample_id"]: r for r in store.read(
        db_uri, "clean_samples", columns=["sample_id", "qtype", "difficulty"],
        where=where).to_dicts()}
    tags = current_tags(db_uri, [r["question_id"] for r in rows])
    out = {}
    for r in rows:
        obs = seen.get(r["sample_id"]) or {}
        out[r["sample_id"]] = (tags.get(r["question_id"], ""), obs.get("qtype") or r["qtype"] or "",
                               obs.get("difficulty") or r["difficulty"] or "")
    return out


class BalanceStage(CurationStage):
    """Kept candidates (``selection``) + ``samples`` / ``clean_samples`` (observed labels) +
    ``question_nodes`` (+ ``judgements``) ->
    ``selection`` drops ``over_quota``, lowest judge score first within a cell."""

    name: ClassVar[str] = "balance"
    reads: ClassVar[tuple[str, ...]] = ("selection", "samples", "clean_samples", "question_nodes",
                                        "judgements", "verifications")
    writes: ClassVar[str] = "selection"
    settings: BalanceSettings = Field(default_factory=BalanceSettings)

    def verdicts(self, ctx: BuildContext, sample_ids: list[str]) -> dict[str, str]:
        if len(sample_ids) < self.settings.min_samples:
            return {}
        cells = sample_cells(ctx.db_uri, sample_ids)
        by_cell: dict[Cell, list[str]] = {}
        for sid in sample_ids:
            by_cell.setdefault(cells.get(sid, ("", "", "")), []).append(sid)
        quota = quotas({c: len(v) for c, v in by_cell.items()}, self.settings.weights,
                       self.settings.max_share_ratio, self.settings.min_keep_fraction)
        scores = rank_scores(ctx, sample_ids)
        drops: dict[str, str] = {}
        for cell, ids in by_cell.items():
            # best first: highest overall score, then the id for a stable order
            ranked = sorted(ids, key=lambda s: (-scores.get(s, 0.0), s))
            drops.update({sid: REASON for sid in ranked[quota[cell]:]})
        return drops


def kept_by_cell(db_uri: str, sample_ids: list[str]) -> dict[Cell, int]:
    """Samples per cell (for reports and tests)."""
    out: dict[Cell, int] = {}
    for cell in sample_cells(db_uri, sample_ids).values():
        out[cell] = out.get(cell, 0) + 1
    return out
