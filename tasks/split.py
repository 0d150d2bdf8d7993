"""split stage: selected samples -> ``splits`` (train/val/test), grouped and stable.

Input rows: ``sample_id``, ``doc_id``, ``cluster_id`` (dedup cluster), ``group_id`` (near-duplicate
group); the flow assembles them from the selection and ``dedup_clusters``.
Output table ``splits``: ``sample_id``, ``cluster_id``, ``split``, ``group_key``.

Every member of a group gets the split of its group, so near-duplicates (or, optionally, all
samples of one document) never straddle train and test. The split of a new group is a pure
function of ``sha256(salt | group_key)``, independent of every other sample, which is what keeps
an existing sample in its split when later builds add documents. On top of that, ``splits`` is
the memory of earlier builds: a group already recorded keeps its recorded split (even after the
ratios change), and a new group made of old samples follows its old members, so a rebuild moves
an old sample only when two groups from different splits merge (the minority side moves).
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from typing import Any, ClassVar, NamedTuple

import pydantic

from sftforge import selection, store
from sftforge.ids import sha256_text
from sftforge.stage import BuildContext, Stage, StageStats

SPLITS: tuple[str, ...] = ("train", "val", "test")


class SplitSettings(pydantic.BaseModel):
    """Split ratios (each >= 0, summing to 1) and how samples are grouped."""

    train: float = pydantic.Field(0.8, ge=0.0, le=1.0)
    val: float = pydantic.Field(0.1, ge=0.0, le=1.0)
    test: float = pydantic.Field(0.1, ge=0.0, le=1.0)
    # Put all samples of one document in the same split (stricter: no document is seen twice).
    group_by_document: bool = False
    # Changing the salt reshuffles every group that is not yet recorded in ``splits``.
    salt: str = "sftforge-split-v1"
    # The card and the CLI warn when a split with a ratio > 0 gets fewer exported samples than
    # this (0 = never); it does not change how samples are assigned.
    min_per_split: int = pydantic.Field(1, ge=0)

    @pydantic.model_validator(mode="after")
    def _ratios_sum_to_one(self) -> "SplitSettings":
        total = self.train + self.val + self.test
        if not math.isclose(total, 1.0, abs_tol=1e-6):
            raise ValueError(f"split ratios must sum to 1, got {total:g}")
        return self

    def ratios(self) -> dict[str, float]:
        """Ratio of each split, in ``SPLITS`` order."""
        return {name: getattr(self, name) for name in SPLITS}


def group_key(
    sample_id: str,
    cluster_id: str | None,
    group_id: str | None,
    doc_id: str,
    settings: SplitSettings,
) -> str:
    """Key of the group a sample is split with: document, near-dup group, cluster, or itself.

    Keys carry their kind as a prefix so a document id can never collide with a cluster id.
    """
    if settings.group_by_document and doc_id:
        return f"doc:{doc_id}"
    if group_id:
        return f"group:{group_id}"
    if cluster_id:
        return f"cluster:{cluster_id}"
    return f"sample:{sample_id}"


def unit_hash(text: str) -> float:
    """Uniform number in [0, 1) from the first 64 bits of sha256(text)."""
    return int(sha256_text(text)[:16], 16) / 2.0**64


def assign_split(group_key: str, settings: SplitSettings) -> str:
    """Split of a group: ``sha256(salt | group_key)`` bucketed by the cumulative ratios.

    Pure and independent of other samples, hence stable across builds with the same settings.
    """
    u = unit_hash(f"{settings.salt}|{group_key}")
    positive = [(name, r) for name, r in settings.ratios().items() if r > 0]
    edge = 0.0
    for name, ratio in positive[:-1]:
        edge += ratio
        if u < edge:
            return name
    # The last non-empty split takes the rest, so float rounding of the sum never lands a
    # sample in a split whose ratio is 0.
    return positive[-1][0]


class Prior(NamedTuple):
    """What earlier builds recorded in ``splits``: split per group key and per sample."""

    by_key: dict[str, str]
    by_sample: dict[str, str]


def load_prior(db_uri: str) -> Prior:
    """Read ``splits`` into a ``Prior``.

    If a key was recorded with several splits (only possible after manual edits), the split
    of its smallest ``sample_id`` wins, so the choice is deterministic.
    """
    frame = store.read(db_uri, "splits", columns=["sample_id", "group_key", "split"])
    prior = Prior({}, {})
    for row in frame.sort("sample_id").iter_rows(named=True):
        if row["split"] in SPLITS:
            prior.by_sample[row["sample_id"]] = row["split"]
            if row["group_key"]:
                prior.by_key.setdefault(row["group_key"], row["split"])
    return prior


def group_split(key: str, members: list[str], prior: Prior, settings: SplitSettings) -> str:
    """Split of one group: its recorded split, else its members' earlier split, else the hash.

    The middle case is a group whose key is new but whose members were split before (a new
    document made an old sample join a fresh near-duplicate cluster): the group follows the
    majority of its old members, so old samples stay put wherever that is possible at all.
    """
    if key in prior.by_key:
        return prior.by_key[key]
    votes = Counter(prior.by_sample[m] for m in members if m in prior.by_sample)
    if votes:
        # Ties go to the earlier name in SPLITS so the result never depends on row order.
        return max(SPLITS, key=lambda name: (votes[name], -SPLITS.index(name)))
    return assign_split(key, settings)


def split_rows(
    rows: list[dict[str, Any]], settings: SplitSettings, prior: Prior
) -> list[dict[str, Any]]:
    """``splits`` rows for ``rows`` (one per unique ``sample_id``, sorted by it)."""
    unique = {r["sample_id"]: r for r in rows}
    keys = {
        sid: group_key(sid, r.get("cluster_id"), r.get("group_id"), r.get("doc_id") or "", settings)
        for sid, r in unique.items()
    }
    groups: dict[str, list[str]] = defaultdict(list)
    for sid in sorted(keys):
        groups[keys[sid]].append(sid)
    split_of = {key: group_split(key, members, prior, settings) for key, members in groups.items()}
    return [
        {"sample_id": sid, "cluster_id": unique[sid].get("cluster_id"),
         "split": split_of[keys[sid]], "group_key": keys[sid]}
        for sid in sorted(keys)
    ]


def split_samples(db_uri: str, rows: list[dict[str, Any]], settings: SplitSettings) -> dict:
    """Assign ``rows`` (sample_id, doc_id, cluster_id, group_id) to splits; upsert ``splits``.

    Returns ``{"train": n, "val": n, "test": n}`` over the unique samples of ``rows``.
    Rows of ``splits`` for samples not in ``rows`` are left alone: they are the memory that
    keeps a dropped-then-restored sample in its old split.
    """
    out = split_rows(rows, settings, load_prior(db_uri))
    store.upsert(db_uri, "splits", out)
    counts = {name: 0 for name in SPLITS}
    for r in out:
        counts[r["split"]] += 1
    return counts


def split_inputs(db_uri: str, sample_ids: list[str]) -> list[dict[str, Any]]:
    """Rows for :func:`split_samples`: sample, document, duplicate cluster and leak group."""
    where = store.sql_in("sample_id", sample_ids)
    samples = store.read(db_uri, "samples", where=where, columns=["sample_id", "doc_id"])
    clusters = store.read(db_uri, "dedup_clusters", where=where, columns=["sample_id", "cluster_id"])
    groups = store.read(db_uri, "dedup_groups", where=where, columns=["sample_id", "group_id"])
    cluster_of = dict(zip(clusters["sample_id"].to_list(), clusters["cluster_id"].to_list()))
    group_of = dict(zip(groups["sample_id"].to_list(), groups["group_id"].to_list()))
    return [{"sample_id": s, "doc_id": d, "cluster_id": cluster_of.get(s),
             "group_id": group_of.get(s)}
            for s, d in samples.sort("sample_id").select(["sample_id", "doc_id"]).iter_rows()]


class SplitStage(Stage):
    """This build's kept samples (+ ``dedup_clusters``/``dedup_groups``) -> ``splits``.

    Every kept sample is (re)assigned each build: the assignment is cheap, stable (earlier
    ``splits`` rows are its memory) and must follow near-duplicate groups as they grow.
    """

    name: ClassVar[str] = "split"
    reads: ClassVar[tuple[str, ...]] = ("selection", "samples", "dedup_clusters", "dedup_groups")
    writes: ClassVar[str] = "splits"
    settings: SplitSettings = pydantic.Field(default_factory=SplitSettings)

    def pending(self, ctx: BuildContext) -> list[dict[str, Any]]:
        ids = selection.kept(ctx.db_uri, ctx.run_id)
        return split_inputs(ctx.db_uri, ids) if ids else []

    def run(self, ctx: BuildContext, items: list[dict[str, Any]]) -> StageStats:
        counts = split_samples(ctx.db_uri, items, self.settings)
        return StageStats(stage=self.name, items_in=len(items), kept=len(items),
                          extra={"splits": counts})
