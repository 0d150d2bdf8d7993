"""Dedup inside a real build: the same text under two file names must not be exported twice
(real Prefect server, real LanceDB, real PDFs, the scripted OpenAI-compatible server)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from flows.build_dataset import BuildParams, build_dataset
from sftforge import store
from sftforge.settings import Settings
from tests.integration.conftest import read_jsonl
from sftforge.demo_corpus import render_markdown_pdf
from tests.integration.tiny_corpus import SECTIONS, tiny_pdf

pytestmark = pytest.mark.usefixtures("prefect_server")


def test_a_copied_document_is_dropped_as_duplicates_and_never_exported(llm_env,
                                                                      tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    tiny_pdf(corpus / "notes.pdf")
    # Same text, other bytes (another title in the PDF's metadata): another document.
    text = "\n\n".join(f"## {name}\n\n{body}" for name, body in SECTIONS.items())
    render_markdown_pdf(f"# Web Defense Notes\n\n{text}\n", corpus / "notes_copy.pdf",
                        title="Notes (copy)")

    summary = build_dataset(BuildParams(input_path=str(corpus), out_dir=str(tmp_path / "out")))

    rows = store.read(Settings().db_uri, "selection", where=f"run_id = '{summary['run_id']}'")
    dedup = [r for r in rows.to_dicts() if r["stage"] == "dedup" and not r["kept"]]
    assert dedup, "dedup dropped nothing although every sample exists twice"
    assert {r["reason"] for r in dedup} <= {"duplicate_exact", "duplicate_semantic"}
    samples = read_jsonl(Path(summary["release_dir"]) / "samples.jsonl")
    assert samples
    twice = [q for q, n in Counter(s["question"] for s in samples).items() if n > 1]
    assert twice == [], f"exported twice: {twice}"
