"""Review: audit draw, verdict log, feedback into the next release, file exchange, the server."""

from __future__ import annotations

import csv
import json
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path

import pytest

from sftforge.jsonl import write_jsonl
from sftforge.review import reviews
from sftforge.review.app import ReviewSession, create_app, running
from sftforge.review.audit import (
    ReviewError,
    allocate,
    draw_sample,
    ensure_audit,
    sample_size,
    stratum_of,
)
from sftforge.review.exchange import export_audit, import_audit
from sftforge.review.passage import passage_html
from tasks.review import apply_reviews, audit_summary, release_list, review_verdicts


def _rows(n_per_stratum: dict[tuple[str, str, str], int]) -> list[dict]:
    rows = []
    for (doc, qtype, split), n in n_per_stratum.items():
        rows += [{"sample_id": f"{doc}-{qtype}-{split}-{i:04d}", "doc_id": doc, "qtype": qtype,
                  "split": split, "question": f"Q{i}", "answer": f"A{i}"} for i in range(n)]
    return rows


def _release(tmp_path: Path, rows: list[dict], name: str = "v0001-abcdef12") -> Path:
    release = tmp_path / "out" / "releases" / name
    release.mkdir(parents=True)
    write_jsonl(release / "samples.jsonl", rows)
    (release.parent / "LATEST").write_text(name + "\n", "utf-8")
    return release


def test_sample_size_is_one_percent_with_a_minimum_of_100_or_all() -> None:
    assert [sample_size(n) for n in (0, 50, 100, 5000, 20000, 20001)] == [0, 50, 100, 100, 200, 201]


def test_allocate_is_proportional_and_keeps_rare_strata() -> None:
    assert allocate({"a": 50, "b": 30, "c": 20}, 10) == {"a": 5, "b": 3, "c": 2}
    assert allocate({"big": 1000, "rare": 1}, 10) == {"big": 9, "rare": 1}
    assert allocate({"a": 3, "b": 2}, 99) == {"a": 3, "b": 2}


def test_draw_is_stratified_and_reproducible_by_seed() -> None:
    rows = _rows({("en", "factual", "train"): 6000, ("en", "how-to", "test"): 300,
                  ("zh", "conceptual", "train"): 3600, ("zh", "factual", "val"): 100})
    first = draw_sample(rows, seed=7)
    assert len(first) == 100 and len({s for s, _ in first}) == 100
    per_stratum = Counter(stratum for _, stratum in first)
    assert per_stratum == {"en|factual|train": 59, "zh|conceptual|train": 35,
                           "en|how-to|test": 4, "zh|factual|val": 2}
    assert draw_sample(rows, seed=7) == first
    assert draw_sample(rows, seed=8) != first
    assert {stratum_of(r) for r in rows if r["sample_id"] in dict(first)} == set(per_stratum)


def test_audit_is_drawn_once_and_another_seed_is_refused(tmp_path: Path) -> None:
    db, release = str(tmp_path / "db"), _release(tmp_path, _rows({("en", "factual", "train"): 30}))
    ids = ensure_audit(db, release, seed=3)
    assert sorted(ids) == sorted(r["sample_id"] for r in _rows({("en", "factual", "train"): 30}))
    assert ensure_audit(db, release, seed=3) == ids
    with pytest.raises(ReviewError, match="drawn with seed 3; run again with --seed 3"):
        ensure_audit(db, release, seed=4)


def _verdict(sid: str, verdict: str, at: str, **kw: str) -> reviews.Verdict:
    return reviews.Verdict(release_version="v0001-abcdef12", sample_id=sid, verdict=verdict,
                           reviewer="lin", reviewed_at=at, **kw)


def test_apply_reviews_drops_rejects_and_carries_edits(tmp_path: Path) -> None:
    db = str(tmp_path / "db")
    reviews.record(db, [
        _verdict("s1", "accept", "2025-01-01T00:00:01"),
        _verdict("s2", "accept", "2025-01-01T00:00:01"),
        _verdict("s2", "reject", "2025-01-01T00:00:02", reason="unfaithful", note="页码不对"),
        _verdict("s3", "edit", "2025-01-01T00:00:03", answer="XSS 是跨站脚本攻击。"),
    ])
    rows = [{"sample_id": s, "question": f"q{s}", "answer": f"a{s}"} for s in ("s1", "s2", "s3", "s4")]
    kept, drops = apply_reviews(rows, review_verdicts(db))
    assert drops == {"s2": "review_rejected"}
    assert kept == [
        {"sample_id": "s1", "question": "qs1", "answer": "as1"},
        {"sample_id": "s3", "question": "qs3", "answer": "XSS 是跨站脚本攻击。", "human_edited": True},
        {"sample_id": "s4", "question": "qs4", "answer": "as4"},
    ]
    assert rows[2]["answer"] == "as3"  # the caller's rows are left alone


def test_verdicts_are_validated() -> None:
    with pytest.raises(ValueError, match="a reject needs a reason"):
        _verdict("s1", "reject", "t")
    with pytest.raises(ValueError, match="an edit needs a corrected question or answer"):
        _verdict("s1", "edit", "t", question="  ")
    with pytest.raises(ValueError, match="is not one of accept, reject, edit"):
        _verdict("s1", "maybe", "t")


def test_audit_summary_counts_the_latest_verdict_against_95_percent(tmp_path: Path) -> None:
    db, release = str(tmp_path / "db"), _release(tmp_path, _rows({("en", "factual", "train"): 20}))
    ids = sorted(ensure_audit(db, release))
    assert audit_summary(db, release.name)["status"] == "not reviewed"
    reviews.record(db, [_verdict(s, "accept", "2025-01-01T00:00:01") for s in ids[:19]])
    assert audit_summary(db, release.name)["status"] == "in review"
    reviews.record(db, [_verdict(ids[19], "reject", "2025-01-01T00:00:02", reason="incorrect")])
    result = audit_summary(db, release.name)
    assert result == {
        "release": release.name, "sample_size": 20, "reviewed": 20, "accepted": 19,
        "rejected": 1, "edited": 0, "acceptance_rate": 0.95, "threshold": 0.95,
        "complete": True, "passed": True, "status": "accepted", "reasons": {"incorrect": 1}}
    # A later second thought on one item tips the audit under the threshold.
    reviews.record(db, [_verdict(ids[0], "edit", "2025-01-01T00:00:03", question="Fixed?")])
    result = audit_summary(db, release.name)
    assert (result["accepted"], result["acceptance_rate"], result["passed"], result["status"]) \
        == (18, 0.9, False, "not accepted")
    assert release_list(db, release.parent) == [{
        "version": release.name, "created_at": None, "samples": 20, "latest": True,
        "status": "not accepted", "acceptance_rate": 0.9, "reviewed": 20, "sample_size": 20,
        "documents": None, "splits": {}, "llm_requests": None, "cost_usd": None, "diff": None}]


def test_passage_marks_cited_spans() -> None:
    text = "CSRF 令牌\n必须随机。 SameSite cookies help too."
    cites = [{"quote": "必须随机", "start": 8, "end": 12}, {"quote": "missing", "start": -1, "end": -1}]
    assert passage_html(text, cites) == (
        "<p>CSRF 令牌\n<mark>必须随机</mark>。 SameSite cookies help too.</p>\n")


def _exchange_setup(tmp_path: Path) -> tuple[str, Path, list[dict]]:
    db = str(tmp_path / "db")
    release = _release(tmp_path, _rows({("zh", "factual", "train"): 3}))
    ids = ensure_audit(db, release)
    items = [{"sample_id": s, "question": "什么是 CSRF？", "answer": "跨站请求伪造。", "page": 1}
             for s in ids]
    return db, release, items


def test_csv_export_and_import_round_trip(tmp_path: Path) -> None:
    db, release, items = _exchange_setup(tmp_path)
    path = tmp_path / "audit.csv"
    assert export_audit(path, release.name, items, {}) == 3
    with open(path, encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert rows[0]["question"] == "什么是 CSRF？" and rows[0]["verdict"] == ""
    rows[0].update(verdict="accept")
    rows[1].update(verdict="reject", reason="off_topic", note="与主题无关")
    rows[2].update(verdict="edit", edited_answer="跨站请求伪造（CSRF）。", reviewer="wang")
    with open(path, "w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    ids = {i["sample_id"] for i in items}
    assert import_audit(db, path, release.name, ids, "lin") == {"rows": 3, "recorded": 3, "unchanged": 0}
    latest = reviews.latest(db, release.name)
    assert {s: (v["verdict"], v["reason"], v["reviewer"]) for s, v in latest.items()} == {
        rows[0]["sample_id"]: ("accept", "", "lin"), rows[1]["sample_id"]: ("reject", "off_topic", "lin"),
        rows[2]["sample_id"]: ("edit", "", "wang")}
    assert latest[rows[2]["sample_id"]]["answer"] == "跨站请求伪造（CSRF）。"
    assert latest[rows[1]["sample_id"]]["origin"] == "import:audit.csv"
    # Re-exporting and importing the same verdicts records nothing new.
    export_audit(tmp_path / "again.jsonl", release.name, items, latest)
    assert import_audit(db, tmp_path / "again.jsonl", release.name, ids, "lin")["recorded"] == 0


def test_import_names_every_bad_row_and_imports_nothing(tmp_path: Path) -> None:
    db, release, items = _exchange_setup(tmp_path)
    path = tmp_path / "audit.jsonl"
    write_jsonl(path, [
        {"sample_id": items[0]["sample_id"], "verdict": "accept"},
        {"sample_id": items[1]["sample_id"], "verdict": "reject"},
        {"sample_id": "nope", "verdict": "accept"},
    ])
    ids = {i["sample_id"] for i in items}
    with pytest.raises(ReviewError) as err:
        import_audit(db, path, release.name, ids, "lin")
    assert f"{path}:2: a reject needs a reason" in str(err.value)
    assert f"{path}:3: sample_id 'nope' is not in the audit of {release.name}" in str(err.value)
    assert reviews.latest(db, release.name) == {}
    with pytest.raises(ReviewError, match="use .jsonl or .csv"):
        import_audit(db, tmp_path / "audit.xlsx", release.name, ids, "lin")


def _get(url: str) -> int:
    try:
        return urllib.request.urlopen(url, timeout=10).status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_server_needs_the_token_on_every_route(tmp_path: Path) -> None:
    db, release, items = _exchange_setup(tmp_path)
    session = ReviewSession(db, release.name, [{**i, "passage_html": "", "citations": []} for i in items], "lin")
    with running(create_app(session)) as base:
        assert base.startswith("http://127.0.0.1:")
        assert _get(f"{base}/") == 403 and _get(f"{base}/?token=wrong") == 403
        assert _get(f"{base}/?token={session.token}") == 200
        body = json.dumps({"sample_id": items[0]["sample_id"], "verdict": "accept"}).encode()
        post = urllib.request.Request(f"{base}/api/verdict", data=body, method="POST",
                                      headers={"Content-Type": "application/json"})
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(post, timeout=10)
        assert err.value.code == 403 and reviews.latest(db) == {}
        post.full_url = f"{base}/api/verdict?token={session.token}"
        reply = json.loads(urllib.request.urlopen(post, timeout=10).read())
        assert reply == {"reviewed": 1, "total": 3, "saved": "accept"}
