"""Question plan, GA pairs and balance on a real build: the planned mix within its stated
tolerance with exact counts per chunk, a pair on every GA sample, quotas and the coverage report."""

from __future__ import annotations

import json
import math
import shutil
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from flows.build_dataset import BuildParams, build_dataset
from sftforge import selection, store
from sftforge.question_plan import PlanSettings, has_code, plan_document
from sftforge.settings import QuestionSettings, Settings
from tasks.balance import kept_by_cell
from tasks.domain_tree import read_nodes
from tasks.questions import questions_per_chunk
from tests.integration.conftest import read_jsonl

pytestmark = pytest.mark.usefixtures("prefect_server")

DEMO = Path(__file__).parents[2] / "sftforge" / "demo"


def _corpus(folder: Path) -> Path:
    """The demo corpus: two English articles and a Chinese one, 3 heading levels."""
    shutil.copytree(DEMO, folder)
    return folder


def _plan_checks(db: str, plan: PlanSettings) -> None:
    questions = store.read(db, "questions").to_dicts()
    chunks = {c["chunk_id"]: c for c in store.read(db, "chunks").to_dicts()}
    items: dict[str, list[dict]] = defaultdict(list)
    for q in questions:
        items[q["item_id"]].append(q)
    streams: dict[str, list[list[dict]]] = defaultdict(list)
    for rows in items.values():
        rows.sort(key=lambda r: r["idx"])
        chunk = chunks[rows[0]["chunk_id"]]
        # exact count per chunk and variant
        assert len(rows) == questions_per_chunk(chunk["n_tokens"], QuestionSettings())
        stream = chunk["doc_id"] + (f"|{rows[0]['ga_pair_id']}" if rows[0]["ga_pair_id"] else "")
        streams[stream].append(rows)
    shares = plan.shares()
    code_share = sum(v for (q, _), v in shares.items() if q == "code")
    # the mix of the other types among non-code slots (code goes only where code is)
    q_share = Counter()
    for (q, _), v in shares.items():
        if q != "code":
            q_share[q] += v / (1 - code_share)
    total = Counter()
    for stream, rows in streams.items():
        rows.sort(key=lambda r: chunks[r[0]["chunk_id"]]["idx"])
        code = [has_code(chunks[r[0]["chunk_id"]]["text"]) for r in rows]
        planned = plan_document(stream, [len(r) for r in rows], plan, code)
        stored = [[(q["qtype"], q["difficulty"]) for q in r] for r in rows]
        assert stored == planned  # the model's own choice never replaces the plan
        assert all(q != "code" for r, ok in zip(stored, code) if not ok for q, _ in r)
        got = Counter(q for slots in stored for q, _ in slots if q != "code")
        m = sum(got.values())
        assert all(abs(got[k] - m * v) <= 3 for k, v in q_share.items()), (stream, got)
        total.update(got)
    assert any(q["qtype"] == "code" for q in questions)  # the demo articles show code
    m = sum(total.values())
    assert all(abs(total[k] - m * v) <= 3 * len(streams) for k, v in q_share.items())
    assert len(streams) == 3 * 4  # three documents, plain + 3 GA pairs each


def test_plan_ga_balance_and_coverage(llm_env, tmp_path: Path) -> None:
    corpus, out, db = _corpus(tmp_path / "corpus"), tmp_path / "out", Settings().db_uri
    summary = build_dataset(BuildParams(input_path=str(corpus), out_dir=str(out),
                                        ga={"pairs_per_doc": 3},  # on, as for an endpoint
                                        balance={"min_samples": 0}))  # the fixture set is small
    _plan_checks(db, PlanSettings())

    # GA: three pairs per document; every GA sample carries its own document's pair
    pairs = store.read(db, "ga_pairs").to_dicts()
    by_doc = defaultdict(set)
    for p in pairs:
        by_doc[p["doc_id"]].add((p["genre"], p["audience"]))
    assert sorted(len(v) for v in by_doc.values()) == [3, 3, 3]
    release = Path(summary["release_dir"])
    samples = read_jsonl(release / "samples.jsonl")
    ga = [s for s in samples if s["genre"]]
    assert ga and len(ga) < len(samples)
    assert all((s["genre"], s["audience"]) in by_doc[s["doc_id"]] for s in ga)
    answer_prompts = [r["messages"][0]["content"] for r in llm_env.log
                      if r["messages"][0]["content"].startswith("You are a domain expert")]
    audiences = {a for v in by_doc.values() for _, a in v}
    written_for = Counter(next((a for a in audiences if f"Write the answer for {a}:" in p), "")
                          for p in answer_prompts)
    assert written_for[""] * 3 == sum(n for a, n in written_for.items() if a)

    # balance: no cell above 1.5 x its (even) share of what is kept, drops by reason
    kept = selection.kept(db, summary["run_id"])
    cells = kept_by_cell(db, kept)
    cap = max(1, math.floor(1.5 * len(kept) / len(cells)))
    assert max(cells.values()) <= cap
    rows = store.read(db, "selection", where=f"run_id = '{summary['run_id']}' AND stage = 'balance'")
    dropped = rows.filter(~rows["kept"])
    assert set(dropped["reason"].to_list()) == {"over_quota"}
    assert dropped.height == summary["drop_reasons"]["balance"]["over_quota"] > 0
    # a sample is dropped only from a cell that is full: it keeps exactly the cap
    for cell in kept_by_cell(db, dropped["sample_id"].to_list()):
        assert cells[cell] == cap

    # coverage: thin nodes are the leaves under half the mean, named in coverage.md
    cov = summary["coverage"]
    per_node = Counter(s["domain_node"] for s in samples)
    parents = {v["parent_id"] for v in read_nodes(db).values() if v["status"] == "active"}
    leaves = [n for n in cov["nodes"] if n["node_id"] not in parents]
    mean = sum(per_node[n["node_id"]] for n in leaves) / len(leaves)
    thin = sorted(n["path"] for n in leaves if 0 < per_node[n["node_id"]] < 0.5 * mean)
    empty = sorted(n["path"] for n in leaves if per_node[n["node_id"]] == 0)
    assert (cov["thin"], cov["empty"]) == (thin, empty)
    text = (release / "coverage.md").read_text("utf-8")
    assert all(f"- {p}" in text for p in thin + empty)
    # the tree comes from the documents' outlines: each demo document's topic is a node with
    # its main sections below, and the samples spread over the three topics
    nodes = read_nodes(db)
    tops = {n["node_id"]: n["label"] for n in nodes.values() if n["level"] == 1}
    assert sorted(tops.values()) == ["Cross-Site Scripting: Attack and Defense",
                                     "SQL Injection and Parameterized Queries", "跨站请求伪造与会话安全"]
    per_topic = Counter(tops[nodes[s["domain_node"]]["parent_id"]] for s in samples)
    assert len(per_topic) == 3 and max(per_topic.values()) < 0.6 * len(samples)
    assert cov["dominant"] is None and "Warning" not in text
    assert json.loads((release / "summary.json").read_text("utf-8"))["coverage"] == cov
