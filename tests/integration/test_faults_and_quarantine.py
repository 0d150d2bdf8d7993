"""Broken input files and LLM faults: nothing stops the build, nothing vanishes silently."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flows.build_dataset import BuildParams, build_dataset, plan_build
from flows.params import resolve
from sftforge import store
from sftforge.cli import app
from sftforge.llm.endpoints import resolve_endpoints
from sftforge.settings import Settings
from sftforge.stage import ErrorBudgetExceeded
from tasks.answers import questions_with_chunks
from tests.integration.conftest import read_jsonl
from tests.pdf_fixtures import (
    corrupt_pdf,
    encrypted_pdf,
    good_english_pdf,
    image_only_pdf,
    truncated_pdf,
)

pytestmark = pytest.mark.usefixtures("prefect_server")


def test_broken_pdfs_are_quarantined_and_the_good_one_exported(llm_env, tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    good_english_pdf(corpus / "good.pdf")
    corrupt_pdf(corpus / "corrupt.pdf")
    encrypted_pdf(corpus / "encrypted.pdf")
    image_only_pdf(corpus / "scanned.pdf")
    result = CliRunner().invoke(app, ["build", str(corpus), "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert "warning: quarantined" in result.output
    release = sorted((tmp_path / "out" / "releases").glob("v*"))[-1]
    summary = json.loads((release / "summary.json").read_text("utf-8"))
    reasons = {Path(q["path"]).name: q["reason"] for q in summary["quarantined"]}
    assert set(reasons) == {"corrupt.pdf", "encrypted.pdf", "scanned.pdf"}
    assert "password" in reasons["encrypted.pdf"] and "OCR" in reasons["scanned.pdf"]
    assert all(q["doc_id"] for q in summary["quarantined"])
    assert {r["source"] for r in read_jsonl(release / "samples.jsonl")} == {"good.pdf"}

    status = CliRunner().invoke(app, ["status", "--json"])
    info = json.loads(status.stdout)
    assert info["documents"] == 1 and info["samples"] > 0
    assert {Path(q["path"]).name for q in info["quarantined"]} == set(reasons)


def _accounted(ctx_settings: Settings, params: BuildParams) -> tuple[set, set, dict]:
    """(chunks without questions or ledger row, questions without sample or ledger row, ledger)."""
    uri = ctx_settings.db_uri
    endpoints = resolve_endpoints(ctx_settings, None)
    ctx, _stages = plan_build(resolve(params), ctx_settings, "check", endpoints)
    q_fp, a_fp = ctx.fp("questions"), ctx.fp("answers")
    ledger = store.read(uri, "failures")
    failed = {(r["stage"], r["item_id"]) for r in ledger.to_dicts()}
    questions = store.read(uri, "questions", where=f"fingerprint = '{q_fp}'")
    chunks = store.read(uri, "chunks")
    lost_chunks = {c for c in chunks["chunk_id"].to_list()
                   if c not in set(questions["chunk_id"].to_list()) and ("questions", c) not in failed}
    samples = store.read(uri, "samples", where=f"fingerprint = '{a_fp}'")
    answered = set(samples["question_id"].to_list())
    docs = chunks["doc_id"].unique().to_list()
    qids = [q["question_id"] for q in questions_with_chunks(uri, docs, q_fp)]
    lost_questions = {q for q in qids if q not in answered and ("answers", q) not in failed}
    return lost_chunks, lost_questions, {r["item_id"]: r["error"] for r in ledger.to_dicts()}


def test_llm_faults_end_in_samples_or_the_failure_ledger(llm_env, monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SFTFORGE_ERROR_BUDGET", "1.0")
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    good_english_pdf(corpus / "good.pdf")
    llm_env.add_fault("429", times=2, retry_after=1)
    llm_env.add_fault("500", times=2)
    monkeypatch.setenv("SFTFORGE_LLM_TIMEOUT_S", "1.5")  # the timeout fault stalls 3 s
    llm_env.add_fault("timeout", times=1)
    llm_env.add_fault("repairable_json", times=2)
    # Persistent faults on chosen items: they can only end in the ledger.
    llm_env.add_fault("broken_json", times=-1, match="Violation reports")
    # Every answer about sessions is cut at max_tokens, on each of the task's own retries too,
    # so those items can only end in the ledger as "truncated".
    llm_env.add_fault("truncated", times=-1, match=("\nQuestion:", "Session identifiers"))
    params = BuildParams(input_path=str(corpus), out_dir=str(tmp_path / "out"))
    summary = build_dataset(params)
    lost_chunks, lost_questions, ledger = _accounted(Settings(), params)
    assert lost_chunks == set() and lost_questions == set()
    errors = " | ".join(ledger.values())
    assert "invalid json" in errors, errors
    uri = Settings().db_uri
    session = [c["chunk_id"] for c in store.read(uri, "chunks").to_dicts()
               if "Session identifiers" in c["text"]]
    session_questions = store.read(uri, "questions", where=store.sql_in("chunk_id", session))
    truncated = {q: ledger.get(q) for q in session_questions["question_id"].to_list()}
    assert truncated and all(e == "truncated: finish_reason=length (raise max_tokens, now 1024)"
                             for e in truncated.values()), truncated
    rows = store.read(uri, "failures", where=store.sql_in("item_id", list(truncated))).to_dicts()
    assert {r["stage"] for r in rows} == {"answers"} and all(r["raw_output"] for r in rows)
    assert summary["failures"], "ledger failures must reach the summary"
    # The faults cost items, not the build: samples were made and a release was written.
    # (How many survive curation depends on FakeLLM's pseudo-answers, not on the faults.)
    assert summary["counts"]["samples"] > 0
    assert (Path(summary["release_dir"]) / "summary.json").exists()


def test_error_budget_fails_the_build_loudly(llm_env, monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SFTFORGE_ERROR_BUDGET", "0.0")
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    good_english_pdf(corpus / "good.pdf")
    llm_env.add_fault("broken_json", times=-1, match="Violation reports")
    with pytest.raises(ErrorBudgetExceeded, match="error budget"):
        build_dataset(BuildParams(input_path=str(corpus), out_dir=str(tmp_path / "out")))
    assert store.count(Settings().db_uri, "failures") > 0


def test_truncated_pdf_is_quarantined_not_fatal(llm_env, tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    good_english_pdf(corpus / "good.pdf")
    truncated_pdf(corpus / "cut.pdf")
    summary = build_dataset(BuildParams(input_path=str(corpus), out_dir=str(tmp_path / "out")))
    assert [Path(q["path"]).name for q in summary["quarantined"]] == ["cut.pdf"]
    assert summary["counts"]["exported"] > 0
