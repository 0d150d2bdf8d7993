"""The review page shows what the verifier saw: the passage as safe Markdown with cited spans,
each check's value, why a sample was kept, and dropped samples a reviewer can restore."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from sftforge import selection, store
from sftforge.jsonl import write_jsonl
from sftforge.review import reviews
from sftforge.review.app import ReviewSession, create_app, running
from sftforge.review.evidence import checks_of, kept_reasons
from sftforge.review.items import load_dropped, load_items
from sftforge.review.passage import passage_html
from sftforge.verifier.store import verification_id
from tasks.review import apply_reviews

PASSAGE = """## 防御措施

Use **parameterized queries** <script>alert(1)</script> everywhere.

| layer | control |
|---|---|
| database | least privilege |

```python
cur.execute("SELECT * FROM users WHERE id = %s", (uid,))
```

<img src=x onerror=alert(2)> [click](javascript:alert(3)) ![t](http://tracker.example/p.png)
"""


def _cite(text: str, quote: str) -> dict:
    """A located citation: ``text[start:end]`` is the quote (sftforge.grounding.citations)."""
    start = text.index(quote)
    return {"quote": quote, "start": start, "end": start + len(quote)}


def test_passage_is_markdown_with_marks_and_hostile_html_escaped() -> None:
    html = passage_html(PASSAGE, [_cite(PASSAGE, "parameterized queries"),
                                  _cite(PASSAGE, "防御措施"), _cite(PASSAGE, "least privilege"),
                                  {"quote": "nowhere", "start": -1, "end": -1}])
    assert "<h2><mark>防御措施</mark></h2>" in html
    assert "<strong><mark>parameterized queries</mark></strong>" in html
    assert "<td><mark>least privilege</mark></td>" in html and "<table>" in html
    assert '<pre><code class="language-python">cur.execute(' in html
    # the document's own HTML is text; no link or image is rendered
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "<img" not in html and "<a " not in html and "&lt;img src=x" in html
    # a marker character planted in the document cannot open a mark
    assert "<mark>" not in passage_html("a \ue000 b \ue001 c", [])


def test_a_citation_across_lines_and_cells_never_breaks_a_block() -> None:
    text = "- first item\n- second item\n\n| a | b |\n|---|---|\n| x1 | y1 |\n"
    html = passage_html(text, [_cite(text, "first item\n- second"), _cite(text, "x1 | y1")])
    assert html.count("<li>") == 2 and "<li><mark>first item</mark></li>" in html
    assert "<li><mark>second</mark> item</li>" in html
    assert "<td><mark>x1 </mark></td>" in html and "<td><mark> y1</mark></td>" in html


def _summary(release: Path, **extra) -> None:
    (release / "summary.json").write_text(json.dumps({"run_id": "run1", **extra}), "utf-8")


def _seed(db: str, ids: list[str]) -> None:
    chunk = {"chunk_id": "c1", "doc_id": "d1", "source": "a.md", "idx": 0, "text": PASSAGE,
             "heading_path": "SQL > 防御措施", "page_start": 1, "page_end": 1}
    store.upsert(db, "chunks", [chunk])
    rows = [{"sample_id": s, "chunk_id": "c1", "doc_id": "d1", "source": "a.md", "page": 1,
             "question": f"How do parameterized queries stop injection ({s})?",
             "answer": f"They keep data apart from code ({s}).",
             "citations": json.dumps([_cite(PASSAGE, "parameterized queries")])} for s in ids]
    store.upsert(db, "samples", rows)
    store.upsert(db, "clean_samples", [{k: r[k] for k in ("sample_id", "question", "answer",
                                                          "citations")} for r in rows])


def test_checks_come_from_the_verifier_when_it_ran_else_from_the_judge(tmp_path: Path) -> None:
    db = str(tmp_path / "db")
    _seed(db, ["s1", "s2"])
    clean = {r["sample_id"]: r for r in store.read(db, "clean_samples").to_dicts()}
    store.upsert(db, "verifications", [
        {"verification_id": verification_id(clean["s1"], "vfp"), "sample_id": "s1",
         "supported": 0.91, "answers": 0.42, "self_contained": 0.8, "method": "logprobs",
         "model": "m", "fingerprint": "vfp"}])
    summary = {"fingerprints": {"verify": "vfp", "judge": "jfp"},
               "params": {"verify": {"min_supported": 0.5, "min_answers": 0.5,
                                     "min_self_contained": 0.3}}}
    got = checks_of(db, summary, ["s1", "s2"])
    assert [(c["name"], c["value"], c["threshold"], c["passed"]) for c in got["s1"]] == [
        ("supported", 0.91, 0.5, True), ("answers", 0.42, 0.5, False),
        ("self_contained", 0.8, 0.3, True)]
    assert got["s2"] == []  # not verified: nothing invented
    judged = checks_of(db, {"fingerprints": {"judge": "jfp"}, "params": {"judge": {
        "min_overall": 6.0, "min_faithfulness": 5}}}, ["s1"],
        {"s1": {"clarity": 9, "faithfulness": 4, "relevance": 8, "completeness": 7, "overall": 7}})
    assert {c["name"]: (c["kind"], c["passed"]) for c in judged["s1"]}["faithfulness"] == (
        "judge", False)
    reasons = kept_reasons(got["s1"], {"citations": [{"start": 3}, {"start": -1}],
                                       "grounding": 0.8})
    assert reasons[:2] == ["supported 0.91 ≥ 0.5", "self_contained 0.8 ≥ 0.3"]
    assert "1 citation(s) found in the passage" in reasons and "grounding 0.8" in reasons
    headed = kept_reasons([], {"heading_path": "SQL > 防御措施", "citations": [
        {"quote": "防御措施", "start": 0}, {"quote": "## Layers", "start": 9}]})
    assert headed[0] == "but 2 citation(s) only quote a heading"


def _release(tmp_path: Path, db: str) -> Path:
    release = tmp_path / "out" / "releases" / "v0001-aaaa"
    release.mkdir(parents=True)
    _seed(db, ["k1", "d1", "d2", "d3"])
    selection.seed(db, "run1", "candidates", {s: "d1" for s in ("k1", "d1", "d2", "d3")})
    selection.drop(db, "run1", "verify", {"d1": "unsupported", "d2": "unsupported"})
    selection.drop(db, "run1", "dedup", {"d3": "near_duplicate"})
    write_jsonl(release / "samples.jsonl", [{
        **store.read(db, "samples", where="sample_id = 'k1'").to_dicts()[0],
        "citations": [_cite(PASSAGE, "parameterized queries")],
        "scores": {"overall": 8.0, "faithfulness": 9}}])
    _summary(release, fingerprints={"judge": "jfp"},
             params={"judge": {"min_overall": 6.0, "min_faithfulness": 5}})
    return release


def test_dropped_samples_by_reason_and_a_restore_feeds_the_next_build(tmp_path: Path) -> None:
    db = str(tmp_path / "db")
    release = _release(tmp_path, db)
    groups = load_dropped(db, release)
    assert [(g["stage"], g["reason"], g["count"], g["restorable"]) for g in groups] == [
        ("verify", "unsupported", 2, True), ("dedup", "near_duplicate", 1, False)]
    assert "<mark>parameterized queries</mark>" in groups[0]["items"][0]["passage_html"]
    items = load_items(db, release, ["k1"])
    assert [c["name"] for c in items[0]["checks"]][:2] == ["faithfulness", "overall"]
    session = ReviewSession(db, release.name, items, "lin", dropped=groups)
    with running(create_app(session)) as base:
        page = urllib.request.urlopen(f"{base}/dropped?token={session.token}", timeout=10)
        html = page.read().decode()
        assert "verify: unsupported — 2 samples</h2>" in html and "&lt;script&gt;" in html
        assert html.count('class="restore"') == 2  # the duplicate has no restore button
        assert _post(base, session.token, "d1") == {"saved": "restore", "reason": "unsupported"}
        assert _post(base, session.token, "d3") == 404  # duplicates are not restorable
        again = urllib.request.urlopen(f"{base}/dropped?token={session.token}", timeout=10)
        assert again.read().decode().count('class="restore"') == 1
    assert reviews.restored(db) == {"d1": "unsupported"}
    # next build: the restored reason no longer drops d1; another reason still would
    drops = {"d1": "unsupported", "d2": "unsupported"}
    assert reviews.unless_restored(db, "verify", drops) == {"d2": "unsupported"}
    assert reviews.unless_restored(db, "clean", {"d1": "vacuous_answer"}) == {
        "d1": "vacuous_answer"}
    assert reviews.unless_restored(db, "balance", {"d1": "unsupported"}) == {"d1": "unsupported"}
    kept, dropped = apply_reviews([{"sample_id": "d1", "question": "q", "answer": "a"}],
                                  reviews.latest(db))
    assert [r["sample_id"] for r in kept] == ["d1"] and dropped == {}


def _post(base: str, token: str, sample_id: str) -> dict | int:
    req = urllib.request.Request(f"{base}/api/restore?token={token}", method="POST",
                                 data=json.dumps({"sample_id": sample_id}).encode(),
                                 headers={"Content-Type": "application/json"})
    try:
        return json.loads(urllib.request.urlopen(req, timeout=10).read())
    except urllib.error.HTTPError as exc:
        return exc.code


def test_a_restore_names_the_reason_it_overrides() -> None:
    with pytest.raises(ValueError, match="a restore names the drop reason"):
        reviews.Verdict(release_version="v1", sample_id="s", verdict="restore", reviewer="lin")
