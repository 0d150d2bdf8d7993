"""Per-chunk generation and judging (tasks/qa_pairs.py, tasks/judge_chunks.py) on a real Prefect
server, a real LanceDB and real PDFs (English + Chinese), against the scripted server."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from flows.build_dataset import BuildParams, build_dataset
from sftforge import selection, store
from sftforge.settings import Settings
from tests.fakellm import default_content
from tests.integration.conftest import read_jsonl
from tests.pdf_fixtures import handbook_corpus

pytestmark = pytest.mark.usefixtures("prefect_server")

N = 3  # pairs per chunk, exact (min = max)
QA_MARK = "You write question-answer pairs"
JUDGE_MARK = "All pairs below\ncome from one source passage"
# A sentence of one English chunk only (tests/pdf_fixtures.py EN_MARKDOWN).
ONE_CHUNK = "SQL injection happens when user input is pasted into a query string."


def _params(corpus: Path, out: Path, mode: str) -> BuildParams:
    # No planted self-check pairs: the judge requests counted are the real samples' only.
    return BuildParams(input_path=str(corpus), out_dir=str(out), generation={"mode": mode},
                       questions={"min_per_chunk": N, "max_per_chunk": N},
                       judge={"self_check_pairs": 0})


def _system(body: dict[str, Any]) -> str:
    return next(m["content"] for m in body["messages"] if m["role"] == "system")


def _samples_per_chunk(summary: dict) -> Counter:
    """chunk_id -> samples this build made from it (the candidates of the build)."""
    entered = set(selection.entered(Settings().db_uri, summary["run_id"]))
    frame = store.read(Settings().db_uri, "samples", columns=["chunk_id", "sample_id"])
    return Counter(r["chunk_id"] for r in frame.to_dicts() if r["sample_id"] in entered)


def test_per_chunk_build_sends_one_generation_and_one_judge_request_per_chunk(
        llm_env, tmp_path: Path) -> None:
    corpus, out = handbook_corpus(tmp_path / "corpus"), tmp_path / "out"
    per_q = build_dataset(_params(corpus, out, "per_question"))
    per_q_chunks = _samples_per_chunk(per_q)
    start = len(llm_env.log)

    per_chunk = build_dataset(_params(corpus, out, "per_chunk"))
    bodies = llm_env.log[start:]
    chunks = _samples_per_chunk(per_chunk)
    # The same kept chunks, N samples each, in both modes.
    assert set(chunks) == set(per_q_chunks) and len(chunks) >= 4
    assert set(chunks.values()) == {N} and set(per_q_chunks.values()) == {N}
    assert per_chunk["counts"]["samples"] == per_q["counts"]["samples"] == N * len(chunks)
    assert per_chunk["counts"]["questions"] == N * len(chunks)
    # Exactly one generation request and one judge request per chunk, nothing else.
    qa = [b for b in bodies if _system(b).startswith(QA_MARK)]
    judge = [b for b in bodies if JUDGE_MARK in _system(b)]
    assert len(qa) == len(chunks) and len(judge) == len(chunks)
    assert len(bodies) == 2 * len(chunks) == per_chunk["llm_requests"]
    assert per_chunk["stages"]["qa_pairs"]["llm_requests"] == len(chunks)
    assert per_chunk["stages"]["judge"]["llm_requests"] == len(chunks)
    # Every sample got its own judgement row; the funnel and release work unchanged.
    cleaned_out = sum(per_chunk["drop_reasons"].get("clean", {}).values())
    assert per_chunk["counts"]["judged"] == N * len(chunks) - cleaned_out
    exported = read_jsonl(Path(per_chunk["release_dir"]) / "samples.jsonl")
    assert len(exported) == per_chunk["counts"]["exported"] > 0
    assert {r["source"] for r in exported} == {"handbook_en.pdf", "handbook_zh.pdf"}
    assert all(r["question"] and r["answer"] and "scores" in r for r in exported)
    # Every pair's reasoning is its CoT, unless hygiene removed it (and said why).
    assert all(bool(r["cot"]) != bool(r.get("cot_removed")) for r in exported)
    assert any(r["cot"] for r in exported)
    # per_question pays 1 + N generation requests per chunk and one judge request per sample.
    assert per_q["llm_requests"] == (len(chunks) * (1 + N) + per_q["counts"]["judged"] + 1  # tree
                                     + _select_requests(per_q))


def _select_requests(summary: dict) -> int:
    stage = summary["stages"].get("select_chunks")
    return stage["llm_requests"] if stage else 0


def _short_reply(persistent: bool) -> Any:
    """A responder that leaves out the last pair of ONE_CHUNK's reply: on the first ask only, or
    always (re-asks included)."""

    def respond(body: dict[str, Any]) -> str:
        content = default_content(body)
        asked_again = any(m["role"] == "assistant" for m in body["messages"])
        text = "\n".join(m["content"] for m in body["messages"])
        if _system(body).startswith(QA_MARK) and ONE_CHUNK in text and (
                persistent or not asked_again):
            value = json.loads(content)
            value["pairs"] = value["pairs"][:-1]
            return json.dumps(value, ensure_ascii=False)
        return content

    return respond


def test_a_short_per_chunk_reply_is_asked_again(llm_env, tmp_path: Path) -> None:
    llm_env.responder = _short_reply(persistent=False)
    corpus = handbook_corpus(tmp_path / "corpus")
    summary = build_dataset(_params(corpus, tmp_path / "out", "per_chunk"))
    chunks = _samples_per_chunk(summary)
    assert set(chunks.values()) == {N}  # the re-ask gave the missing pair
    assert summary["stages"]["qa_pairs"]["llm_requests"] == len(chunks) + 1
    assert summary["stages"]["qa_pairs"]["failed"] == 0


def test_a_persistently_short_reply_is_ledgered_with_its_reason(llm_env, tmp_path: Path) -> None:
    llm_env.responder = _short_reply(persistent=True)
    corpus = handbook_corpus(tmp_path / "corpus")
    summary = build_dataset(_params(corpus, tmp_path / "out", "per_chunk"))
    chunks = _samples_per_chunk(summary)
    assert set(chunks.values()) == {N}  # no chunk has a partial set of samples
    ledger = store.read(Settings().db_uri, "failures",
                        where="stage = 'qa_pairs'").to_dicts()
    assert len(ledger) == 1 and ledger[0]["item_id"] not in chunks
    assert "pairs" in ledger[0]["error"] and "at least 3 items" in ledger[0]["error"]
    assert ledger[0]["raw_output"]  # the short reply is kept for inspection
    # first ask + re-ask, then the retry pass asks again + re-ask: 4 requests for that chunk
    assert summary["stages"]["qa_pairs"]["llm_requests"] == len(chunks) + 4
    assert summary["failure_rates"]["qa_pairs"]["failed"] == 1
