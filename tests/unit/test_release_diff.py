"""Release diff (added / removed / changed by document) and re-export from tagged table versions
(real LanceDB on disk, real release files), byte for byte after the tables changed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sftforge import selection, store
from sftforge.release.diff import (
    diff_against_previous, diff_lines, diff_rows, previous_release, resolve_release,
)
from tasks.card import release_samples, tag_tables
from tasks.export import ExportSettings, write_release
from tasks.reexport import reexport


def row(sid: str, doc: str, source: str, answer: str = "An answer.") -> dict:
    return {"sample_id": sid, "doc_id": doc, "source": source, "page": 1,
            "question": f"Question {sid}?", "answer": answer, "cot": "", "split": "train"}


def test_diff_by_document_added_removed_changed_and_replaced() -> None:
    old = [row("a1", "A", "a.pdf"), row("a2", "A", "a.pdf"), row("b1", "B", "b.pdf"),
           row("c1", "C", "c.pdf")]
    new = [row("a1", "A", "a.pdf"), row("a2", "A", "a.pdf", answer="Edited answer."),
           row("b9", "B2", "b.pdf"), row("d1", "D", "d.pdf"), row("d2", "D", "d.pdf")]
    diff = diff_rows(old, new)
    assert (diff["added"], diff["removed"], diff["changed"], diff["unchanged"]) == (3, 2, 1, 1)
    assert diff["added_ids"] == ["b9", "d1", "d2"] and diff["removed_ids"] == ["b1", "c1"]
    docs = {d["doc_id"]: d for d in diff["documents"]}
    assert {k: (d["status"], d["added"], d["removed"], d["changed"]) for k, d in docs.items()} == {
        "A": ("changed", 0, 0, 1), "B": ("removed", 0, 1, 0), "B2": ("added", 1, 0, 0),
        "C": ("removed", 0, 1, 0), "D": ("added", 2, 0, 0)}
    assert docs["B2"]["replaces"] == "B" and docs["B"]["replaced_by"] == "B2"
    assert "replaces" not in docs["D"] and "replaced_by" not in docs["C"]
    text = "\n".join(diff_lines({"from": "v0001-x", "to": "v0002-y", **diff}))
    assert "3 samples added, 2 removed, 1 changed, 1 unchanged (4 -> 5)" in text
    assert "| b.pdf | B2 | added (replaces B) | 1 | 0 | 0 |" in text


def test_identical_releases_have_an_empty_diff() -> None:
    rows = [row("x", "X", "x.pdf"), row("y", "Y", "中文.pdf")]
    diff = diff_rows(rows, list(reversed(rows)))
    assert (diff["added"], diff["removed"], diff["changed"], diff["documents"]) == (0, 0, 0, [])


def _release(root: Path, name: str, rows: list[dict]) -> Path:
    folder = root / "releases" / name
    folder.mkdir(parents=True)
    (folder / "samples.jsonl").write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    return folder


def test_previous_release_and_names(tmp_path: Path) -> None:
    one = _release(tmp_path, "v0001-aaaa", [row("a", "A", "a.pdf")])
    _release(tmp_path, "v0002-bbbb", [row("a", "A", "a.pdf"), row("b", "B", "b.pdf")])
    three = _release(tmp_path, "v0003-cccc", [row("b", "B", "b.pdf")])
    releases = tmp_path / "releases"
    assert previous_release(releases, "v0003-cccc").name == "v0002-bbbb"
    assert previous_release(releases, one.name) is None and diff_against_previous(one) is None
    assert diff_against_previous(three)["removed_ids"] == ["a"]
    assert resolve_release(releases, "v0003") == three == resolve_release(releases, "3")
    with pytest.raises(FileNotFoundError, match="no release 'v0009'.*v0001-aaaa"):
        resolve_release(releases, "v0009")


# ------------------------------------------------------------------- re-export


def _sample(sid: str, doc: str, answer: str) -> dict:
    return {"sample_id": sid, "question_id": f"q-{sid}", "chunk_id": f"c-{doc}", "doc_id": doc,
            "source": f"{doc}.pdf", "page": 2, "question": f"What does {sid} say?",
            "answer": answer, "cot": "Because the passage says so.", "citations": "[]",
            "qtype": "factual", "difficulty": "easy", "model": "m", "fingerprint": "fp"}


def _split(sid: str, split: str) -> dict:
    return {"sample_id": sid, "cluster_id": f"k-{sid}", "split": split, "group_key": sid}


def _build(db: str, out: Path, run: str, samples: list[dict], splits: list[dict]) -> Path:
    """What a build's release + export + card do to the tables and the folder."""
    store.upsert(db, "samples", samples)
    store.upsert(db, "splits", splits)
    selection.seed(db, run, "candidates", {s["sample_id"]: s["doc_id"] for s in samples})
    rows = json.loads(json.dumps(release_samples(db, selection.kept(db, run), None)))
    folder = out / "releases" / f"v000{run[-1]}-{run}"
    settings = ExportSettings(formats=["alpaca", "sharegpt"])
    write_release(folder, rows, settings)
    summary = {"run_id": run, "fingerprints": {}, "params": {"export": settings.model_dump()}}
    summary["table_versions"] = tag_tables(db, folder.name)
    (folder / "summary.json").write_text(json.dumps(summary), "utf-8")
    return folder


def test_reexport_is_byte_identical_after_the_tables_changed(tmp_path: Path) -> None:
    db, out = str(tmp_path / "db"), tmp_path / "out"
    first = _build(db, out, "run1", [_sample("s1", "d1", "Use prepared statements."),
                                     _sample("s2", "d2", "跨站脚本需要输出编码。")],
                   [_split("s1", "train"), _split("s2", "test")])
    # A later build: one answer rewritten in place, a sample and a split changed, one added.
    _build(db, out, "run2", [_sample("s1", "d1", "Rewritten answer."), _sample("s3", "d3", "New.")],
           [_split("s1", "val"), _split("s3", "train")])
    stats = reexport(db, first, tmp_path / "again")
    assert sorted(stats["files_compared"]) == sorted([*stats["files"], "dataset_info.json",
                                                      "samples.jsonl"])
    assert all(stats["files_compared"].values()), stats["files_compared"]
    again = read_ids(tmp_path / "again" / "samples.jsonl")
    assert again == ["s1", "s2"]


def read_ids(path: Path) -> list[str]:
    return [json.loads(line)["sample_id"] for line in path.read_text("utf-8").splitlines()]


def test_reexport_of_an_untagged_release_names_the_problem(tmp_path: Path) -> None:
    db, out = str(tmp_path / "db"), tmp_path / "out"
    folder = _build(db, out, "run1", [_sample("s1", "d1", "A.")], [_split("s1", "train")])
    for name in store.list_tables(db):
        store.connect(db).open_table(name).tags.delete(folder.name)
    with pytest.raises(LookupError, match=f"has no tag '{folder.name}'"):
        reexport(db, folder, tmp_path / "again")


def test_release_list_shows_counts_cost_and_diff(tmp_path: Path) -> None:
    from tasks.review import release_list

    folder = _release(tmp_path, "v0002-bbbb", [row("a", "A", "a.pdf")])
    summary = {"created_at": "2026-01-01T00:00:00+00:00", "counts": {"documents": 3},
               "distributions": {"splits": {"train": 1}}, "llm_requests": 7, "cost_usd": 0.0123,
               "diff": {"added": 1, "removed": 2, "changed": 0, "documents": []}}
    (folder / "summary.json").write_text(json.dumps(summary), "utf-8")
    (listed,) = release_list(str(tmp_path / "db"), folder.parent)
    assert {k: listed[k] for k in ("samples", "documents", "splits", "llm_requests", "cost_usd",
                                   "diff")} == {
        "samples": 1, "documents": 3, "splits": {"train": 1}, "llm_requests": 7,
        "cost_usd": 0.0123, "diff": {"added": 1, "removed": 2, "changed": 0}}
