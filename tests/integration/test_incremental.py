"""Incremental rebuilds on a real Prefect server, LanceDB and PDFs against the scripted server:
a new document costs only its own requests, a removed one leaves the next release, a changed
one replaces its old self; each release has a diff and can be re-exported byte for byte."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from flows.build_dataset import BuildParams, build_dataset
from flows.dry_run import dry_run
from sftforge.demo_corpus import render_markdown_pdf
from sftforge.release.diff import diff_releases
from sftforge.settings import Settings
from tasks.reexport import reexport
from tests.corpus_fixtures import TOPICS, topic_pdf, write_topics
from tests.fakellm_values import _text_of, default_content
from tests.integration.conftest import read_jsonl

pytestmark = pytest.mark.usefixtures("prefect_server")


def _build(corpus: Path, out: Path, **params: object) -> dict:
    return build_dataset(BuildParams(input_path=str(corpus), out_dir=str(out), **params))


def _about(body: dict, index: int) -> bool:
    """True when a request carries text of topic ``index`` (its first sentence's opening)."""
    return TOPICS[index][2][0][:30] in _text_of(body)


def _rows(summary: dict) -> list[dict]:
    return read_jsonl(Path(summary["release_dir"]) / "samples.jsonl")


def _requests(summary: dict, stage: str) -> int:
    return summary["stages"][stage]["llm_requests"] if stage in summary["stages"] else 0


def test_add_then_remove_a_document(llm_env, tmp_path: Path) -> None:
    corpus, out = tmp_path / "corpus", tmp_path / "out"
    write_topics(corpus, [0, 1, 2])
    first = _build(corpus, out)
    assert {r["source"] for r in _rows(first)} == {f"{TOPICS[i][0]}.pdf" for i in (0, 1, 2)}
    assert first["diff"] is None  # the first release has nothing to compare with

    write_topics(corpus, [3])
    plan = dry_run(BuildParams(input_path=str(corpus), out_dir=str(out)))
    before = llm_env.requests
    assert llm_env.requests == before, "the dry run sent a request"
    second = _build(corpus, out)
    sent = llm_env.log[before:]
    assert sent and all(_about(body, 3) for body in sent), "requests for old documents"
    assert len(sent) == second["llm_requests"]
    predicted = {s["stage"]: s for s in plan["stages"]}
    for stage in ("questions", "answers"):
        assert predicted[stage]["requests"] == _requests(second, stage), stage
    # The judge estimate counts every new answer; the clean stage may drop some first.
    assert _requests(second, "judge") <= predicted["judge"]["requests"]

    new_doc = {r["doc_id"] for r in _rows(second) if r["source"] == f"{TOPICS[3][0]}.pdf"}
    assert len(new_doc) == 1
    diff = second["diff"]
    added = [r for r in _rows(second) if r["doc_id"] in new_doc]
    assert (diff["added"], diff["removed"], diff["changed"]) == (len(added), 0, 0)
    assert [(d["source"], d["status"], d["added"]) for d in diff["documents"]] == [
        (f"{TOPICS[3][0]}.pdf", "added", len(added))]

    (corpus / f"{TOPICS[1][0]}.pdf").unlink()
    before = llm_env.requests
    third = _build(corpus, out)
    assert llm_env.requests == before and third["llm_requests"] == 0
    gone = [r for r in _rows(second) if r["source"] == f"{TOPICS[1][0]}.pdf"]
    assert gone and not [r for r in _rows(third) if r["source"] == f"{TOPICS[1][0]}.pdf"]
    assert {r["sample_id"] for r in _rows(third)} == \
        {r["sample_id"] for r in _rows(second)} - {r["sample_id"] for r in gone}
    diff = third["diff"]
    assert (diff["added"], diff["removed"], diff["changed"]) == (0, len(gone), 0)
    assert [(d["source"], d["status"], d["removed"]) for d in diff["documents"]] == [
        (f"{TOPICS[1][0]}.pdf", "removed", len(gone))]
    card = (Path(third["release_dir"]) / "README.md").read_text("utf-8")
    assert card.startswith("---\nlicense:") and "## Changes since the previous release" in card
    assert f"| {TOPICS[1][0]}.pdf |" in card

    # Releases 1 and 2 are re-exported from their tagged tables after later builds.
    for summary in (first, second):
        release = Path(summary["release_dir"])
        stats = reexport(Settings().db_uri, release, tmp_path / f"re-{release.name}")
        assert stats["files_compared"] and all(stats["files_compared"].values()), stats
    assert diff_releases(Path(second["release_dir"]), Path(third["release_dir"]))["removed"] \
        == len(gone)


def test_changed_document_replaces_the_old_one(llm_env, tmp_path: Path) -> None:
    corpus, out = tmp_path / "corpus", tmp_path / "out"
    write_topics(corpus, [4, 10])  # English and Chinese
    first = _build(corpus, out)
    old_zh = {r["doc_id"] for r in _rows(first) if r["source"] == f"{TOPICS[10][0]}.pdf"}
    topic_pdf(corpus / f"{TOPICS[10][0]}.pdf", 10, revision=1)  # new bytes, same name
    before = llm_env.requests
    second = _build(corpus, out)
    sent = llm_env.log[before:]
    assert sent and all("第1版补充" in _text_of(b) for b in sent), "requests for unchanged text"
    rows = _rows(second)
    new_zh = {r["doc_id"] for r in rows if r["source"] == f"{TOPICS[10][0]}.pdf"}
    assert len(new_zh) == 1 and new_zh.isdisjoint(old_zh)
    docs = {d["doc_id"]: d for d in second["diff"]["documents"]}
    (old,), (new,) = old_zh, new_zh
    assert docs[old]["status"] == "removed" and docs[old]["replaced_by"] == new
    assert docs[new]["status"] == "added" and docs[new]["replaces"] == old
    # Only the Chinese document was added/removed; the English one may show changed rows
    # (the revised domain tree re-tags its questions), never added or removed ones.
    moved = {d for d, v in docs.items() if v["status"] in ("added", "removed")}
    assert moved == {old, new}


def _longer_answers(body: dict) -> str:
    """Default replies, except that answers get one more sentence (dedup ranks longer first)."""
    value = json.loads(default_content(body))
    if isinstance(value, dict) and "answer" in value and "citations" in value:
        value["answer"] += " This also holds for internal tools."
    return json.dumps(value, ensure_ascii=False)


def test_resaved_document_is_not_dropped_as_a_duplicate_of_its_old_self(
        llm_env, tmp_path: Path) -> None:
    """A file saved again (new bytes, same text) gets new ids and near-identical samples: dedup
    must not drop them as duplicates of the removed version's samples, even when those would
    rank first (here: longer answers)."""
    corpus, out = tmp_path / "corpus", tmp_path / "out"
    name = f"{TOPICS[5][0]}.pdf"
    write_topics(corpus, [5])
    llm_env.responder = _longer_answers  # the old version outranks the new one in dedup
    first = _build(corpus, out, judge_enabled=False)  # no scores: dedup ranks by length
    (old,) = _rows(first)
    llm_env.responder = None
    shutil.rmtree(Path(os.environ["SFTFORGE_HOME"]) / "llm_cache")  # so answers are asked again
    render_markdown_pdf(" ".join(TOPICS[5][2]) + "\n", corpus / name,
                        page_numbers=False, paper="a4")
    second = _build(corpus, out, judge_enabled=False)
    (new,) = _rows(second)
    assert new["doc_id"] != old["doc_id"] and new["sample_id"] != old["sample_id"]
    assert new["source"] == old["source"] == name
    assert second["drop_reasons"].get("dedup", {}) == {}
    assert (second["diff"]["added"], second["diff"]["removed"]) == (1, 1)
