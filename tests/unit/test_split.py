"""split stage: stable hashing, ratios, grouping without leakage, memory across builds."""

from __future__ import annotations

import json
import random
from collections import Counter, defaultdict
from pathlib import Path

import pydantic
import pytest
from prefect.logging import disable_run_logger

from sftforge import store
from sftforge.stage import BuildContext
from tasks.split import (
    SplitSettings,
    assign_split,
    group_key,
    split_rows,
    split_inputs,
    split_samples,
    SplitStage,
    Prior,
)


def _rows(n: int, start: int = 0, cluster_size: int = 3, docs: int = 20) -> list[dict]:
    """Samples s<start..start+n>, clustered in runs of ``cluster_size``, spread over documents."""
    return [
        {"sample_id": f"s{i:05d}", "doc_id": f"doc{i % docs:03d}",
         "cluster_id": f"c{i // cluster_size:05d}", "group_id": None}
        for i in range(start, start + n)
    ]


def _splits(db_uri: str) -> dict[str, str]:
    frame = store.read(db_uri, "splits")
    return dict(zip(frame["sample_id"].to_list(), frame["split"].to_list()))


def test_settings_validate_ratios() -> None:
    assert SplitSettings().ratios() == {"train": 0.8, "val": 0.1, "test": 0.1}
    SplitSettings(train=0.7, val=0.2, test=0.1)  # 0.7 + 0.2 + 0.1 != 1.0 exactly in floats
    with pytest.raises(pydantic.ValidationError, match="sum to 1"):
        SplitSettings(train=0.8, val=0.1, test=0.2)
    with pytest.raises(pydantic.ValidationError):
        SplitSettings(train=1.1, val=-0.1, test=0.0)


def test_group_key_precedence() -> None:
    s = SplitSettings()
    by_doc = SplitSettings(group_by_document=True)
    assert group_key("s1", "c1", "g1", "d1", by_doc) == "doc:d1"
    assert group_key("s1", "c1", "g1", "d1", s) == "group:g1"
    assert group_key("s1", "c1", None, "d1", s) == "cluster:c1"
    assert group_key("s1", None, "", "d1", s) == "sample:s1"
    # Same id string in two namespaces must not mean the same group.
    assert group_key("x", "x", None, "x", s) != group_key("x", None, None, "x", by_doc)


def test_assign_split_is_stable_when_keys_are_added() -> None:
    s = SplitSettings()
    first = {f"cluster:{i}": assign_split(f"cluster:{i}", s) for i in range(1000)}
    keys = list(first) + [f"cluster:new{i}" for i in range(500)]
    random.Random(7).shuffle(keys)  # order and company must not matter
    second = {k: assign_split(k, s) for k in keys}
    assert all(second[k] == v for k, v in first.items())
    assert set(first.values()) == {"train", "val", "test"}


def test_ratios_roughly_respected_on_10k_keys() -> None:
    s = SplitSettings(train=0.7, val=0.2, test=0.1)
    counts = Counter(assign_split(f"sample:{i:06d}", s) for i in range(10_000))
    # Binomial sd for p=0.2 on 10k is 0.4 %; 1.5 % is > 3.5 sd.
    for name, ratio in s.ratios().items():
        assert abs(counts[name] / 10_000 - ratio) < 0.015, (name, counts)


def test_zero_ratio_split_never_assigned_and_salt_reshuffles() -> None:
    no_test = SplitSettings(train=0.9, val=0.1, test=0.0)
    counts = Counter(assign_split(f"k{i}", no_test) for i in range(5000))
    assert counts["test"] == 0 and counts["val"] > 0
    other = SplitSettings(salt="another")
    moved = sum(assign_split(f"k{i}", SplitSettings()) != assign_split(f"k{i}", other)
                for i in range(2000))
    assert moved > 300  # ~32 % expected for 80/10/10


def test_no_cluster_straddles_two_splits() -> None:
    rng = random.Random(3)
    rows = [{"sample_id": f"s{i}", "doc_id": f"d{rng.randrange(30)}",
             "cluster_id": f"c{rng.randrange(400)}", "group_id": None} for i in range(3000)]
    out = split_rows(rows, SplitSettings(), Prior({}, {}))
    by_cluster: dict[str, set[str]] = defaultdict(set)
    for r in out:
        by_cluster[r["cluster_id"]].add(r["split"])
    assert all(len(v) == 1 for v in by_cluster.values())
    assert {r["split"] for r in out} == {"train", "val", "test"}


def test_group_by_document_puts_each_document_in_one_split() -> None:
    rows = _rows(600, docs=60)
    out = split_rows(rows, SplitSettings(group_by_document=True), Prior({}, {}))
    doc_of = {r["sample_id"]: r["doc_id"] for r in rows}
    by_doc: dict[str, set[str]] = defaultdict(set)
    for r in out:
        by_doc[doc_of[r["sample_id"]]].add(r["split"])
        assert r["group_key"] == f"doc:{doc_of[r['sample_id']]}"
    assert len(by_doc) == 60 and all(len(v) == 1 for v in by_doc.values())


def test_near_dup_group_id_wins_over_cluster() -> None:
    # Two clusters joined by one near-duplicate group (Chinese ids too) must share a split.
    rows = [{"sample_id": f"s{i}", "doc_id": "d", "cluster_id": f"簇{i % 2}",
             "group_id": "近重复组-1"} for i in range(10)]
    out = split_rows(rows, SplitSettings(), Prior({}, {}))
    assert len({r["split"] for r in out}) == 1
    assert {r["cluster_id"] for r in out} == {"簇0", "簇1"}


def test_second_build_keeps_every_earlier_sample(tmp_path: Path) -> None:
    db = str(tmp_path / "db")
    first = split_samples(db, _rows(1000), SplitSettings())
    assert sum(first.values()) == 1000 and min(first.values()) > 50
    before = _splits(db)
    # Later build: 500 new samples, some joining old clusters, and different ratios; the
    # recorded groups must not move, and new members follow their group.
    more = _rows(1000) + _rows(500, start=1000)
    second = split_samples(db, more, SplitSettings(train=0.5, val=0.25, test=0.25))
    after = _splits(db)
    assert sum(second.values()) == 1500
    assert all(after[sid] == split for sid, split in before.items())
    joined = [r for r in _rows(500, start=1000) if r["cluster_id"] == "c00333"]
    assert joined and {after[r["sample_id"]] for r in joined} == {after["s00999"]}


def test_old_samples_in_a_new_group_follow_their_majority(tmp_path: Path) -> None:
    db = str(tmp_path / "db")
    store.upsert(db, "splits", [
        {"sample_id": "a", "cluster_id": None, "split": "test", "group_key": "sample:a"},
        {"sample_id": "b", "cluster_id": None, "split": "test", "group_key": "sample:b"},
        {"sample_id": "c", "cluster_id": None, "split": "train", "group_key": "sample:c"},
    ])
    # A new document made a, b, c near-duplicates of a new sample n: one fresh cluster.
    rows = [{"sample_id": s, "doc_id": "d", "cluster_id": "fresh", "group_id": None}
            for s in ("a", "b", "c", "n")]
    counts = split_samples(db, rows, SplitSettings())
    assert counts == {"train": 0, "val": 0, "test": 4}
    frame = store.read(db, "splits", where="sample_id = 'n'")
    assert frame.to_dicts() == [
        {"sample_id": "n", "cluster_id": "fresh", "split": "test", "group_key": "cluster:fresh"}
    ]


def test_recorded_group_key_beats_hash_and_majority(tmp_path: Path) -> None:
    db = str(tmp_path / "db")
    store.upsert(db, "splits", [
        {"sample_id": "x", "cluster_id": "gone", "split": "val", "group_key": "cluster:gone"},
        {"sample_id": "a", "cluster_id": "C", "split": "val", "group_key": "cluster:C"},
        {"sample_id": "c", "cluster_id": None, "split": "train", "group_key": "sample:c"},
        {"sample_id": "d", "cluster_id": None, "split": "train", "group_key": "sample:d"},
    ])
    everything_to_test = SplitSettings(train=0.0, val=0.0, test=1.0)
    rows = [  # x left the selection, y is new in its cluster; c and d joined a's cluster.
        {"sample_id": "y", "doc_id": "d", "cluster_id": "gone", "group_id": None},
        *({"sample_id": s, "doc_id": "d", "cluster_id": "C", "group_id": None} for s in "acd"),
        {"sample_id": "z", "doc_id": "d", "cluster_id": "new", "group_id": None},
    ]
    split_samples(db, rows, everything_to_test)
    assert _splits(db) == {"x": "val", "y": "val", "a": "val", "c": "val", "d": "val", "z": "test"}


def test_split_stage_assigns_its_items(tmp_path: Path) -> None:
    db = str(tmp_path / "db")
    rows = _rows(30) + _rows(30)  # duplicates count once
    ctx = BuildContext(db_uri=db, home=str(tmp_path), run_id="r")
    counts = SplitStage(settings=SplitSettings()).run(ctx, rows).extra["splits"]
    assert sum(counts.values()) == 30 == store.count(db, "splits")
    assert set(counts) == {"train", "val", "test"}


def test_split_reads_near_duplicate_groups_and_clusters_from_the_tables(tmp_path: Path) -> None:
    """``split_inputs`` is what the stage splits: a near-duplicate group or a duplicate cluster
    read from the dedup tables lands in one split, whatever its members' own hashes say."""
    db = str(tmp_path / "db")
    ids = [f"s{i:03d}" for i in range(60)]
    store.upsert(db, "samples", [{"sample_id": s, "doc_id": f"d{i % 7}", "question": "q",
                                  "answer": "a"} for i, s in enumerate(ids)])
    # Three groups of 20 samples each: alone, their hashes would spread them over all splits.
    store.upsert(db, "dedup_groups", [{"sample_id": s, "group_id": f"g{i // 20}",
                                       "fingerprint": "f"} for i, s in enumerate(ids)])
    store.upsert(db, "dedup_clusters", [{"sample_id": s, "cluster_id": "c-tail", "kept": True,
                                         "fingerprint": "f"} for s in ids[40:]])
    rows = split_inputs(db, ids)
    assert {r["group_id"] for r in rows} == {"g0", "g1", "g2"}
    assert sum(r["cluster_id"] == "c-tail" for r in rows) == 20
    split_samples(db, rows, SplitSettings())
    splits = _splits(db)
    for g in range(3):
        assert len({splits[s] for s in ids[g * 20:(g + 1) * 20]}) == 1
    alone = {assign_split(f"sample:{s}", SplitSettings()) for s in ids}
    assert len(alone) > 1  # so the grouping, not chance, put each group in one split
