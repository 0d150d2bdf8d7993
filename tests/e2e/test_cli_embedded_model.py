"""End to end: ``sftforge build`` as a user runs it, offline, with the embedded local model."""

from __future__ import annotations

import json
import os
import re
import subprocess
import unicodedata
import sys
from pathlib import Path

import pytest

from sftforge import store
from sftforge.demo_corpus import render_markdown_pdf
from sftforge.llm.local import local_llm_available
from sftforge.text import detect_lang
from tests.conftest import shared_models_dir

pytestmark = pytest.mark.e2e

EN = """# Clickjacking

## Defense

Clickjacking loads a target site in an invisible frame and tricks the user into clicking it.
The Content-Security-Policy directive frame-ancestors 'none' forbids framing by any origin,
and the older X-Frame-Options: DENY header does the same for legacy browsers.
"""

ZH = """# 目录遍历

## 防御

目录遍历攻击利用 ../ 这样的路径片段读取网站目录之外的文件。防御方法是先把用户提供的路径规范化，
再检查结果是否仍然位于允许的根目录之内，并且只允许白名单中的文件名。
"""


def _cli(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).with_name("sftforge")
    return subprocess.run([str(exe), *args], env=env, cwd=cwd, capture_output=True, text=True,
                          timeout=1500)


def _fold(text: str) -> str:
    """Letters, digits and CJK only, NFKC and lower case: how a quote is compared to its span."""
    return re.sub(r"[^\w]", "", unicodedata.normalize("NFKC", text).lower())


def _check_citations(rows: list[dict], chunks: dict[str, str]) -> int:
    """Assert every exported citation's span holds its quote; return how many there are."""
    seen = 0
    for row in rows:
        text = chunks[row["chunk_id"]]
        for c in row.get("citations") or []:
            span = _fold(text[c["start"]:c["end"]])
            parts = [_fold(p) for p in re.split(r"\.\.\.|…", c["quote"]) if _fold(p)]
            assert 0 <= c["start"] < c["end"] and parts and all(p in span for p in parts), (
                f"citation {c} does not point at its quote in chunk {row['chunk_id']}")
            seen += 1
    return seen


def test_build_with_the_embedded_model(tmp_path: Path) -> None:
    ok, why = local_llm_available()
    if not ok:  # a missing model is a broken install, not a reason to skip the proof
        pytest.fail(why)
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    render_markdown_pdf(EN, corpus / "clickjacking.pdf", title="Clickjacking")
    render_markdown_pdf(ZH, corpus / "traversal_zh.pdf", title="目录遍历")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SFTFORGE_", "PREFECT_"))}
    env.update(SFTFORGE_HOME=str(tmp_path / "home"), PREFECT_HOME=str(tmp_path / "prefect"),
               HF_HUB_OFFLINE="1", SFTFORGE_QUESTION__TEMPERATURE="0",
               SFTFORGE_ANSWER__TEMPERATURE="0",  # greedy decoding: the same output every run
               # Two pairs per document: one wrong answer of the 1.5B model (dropped, as it
               # should be) must not leave a language without samples.
               SFTFORGE_QUESTIONS__MIN_PER_CHUNK="2", SFTFORGE_QUESTIONS__MAX_PER_CHUNK="2",
               # The verifier's self-check on the real model with 8 planted pairs, not the
               # build default of 24: its counting is tested on the scripted server.
               SFTFORGE_VERIFY__SELF_CHECK_PAIRS="8")
    # The joined model file is reused across test runs instead of being rebuilt from the parts.
    env["SFTFORGE_MODELS_DIR"] = str(shared_models_dir())
    result = _cli(["build", str(corpus), "--out", str(tmp_path / "out")], env, tmp_path)
    assert result.returncode == 0, result.stderr[-4000:]
    release = sorted((tmp_path / "out" / "releases").glob("v*"))[-1]
    summary = json.loads((release / "summary.json").read_text("utf-8"))
    assert summary["llm_requests"] > 0 and summary["counts"]["samples"] > 0
    rows = [json.loads(x) for x in (release / "samples.jsonl").read_text("utf-8").splitlines()]
    assert rows, f"nothing exported: {summary['drop_reasons']} {summary['failures']}"
    assert all(r["doc_id"] and r["page"] >= 1 and r["question"] and r["answer"] for r in rows)
    assert list(release.glob("alpaca*.jsonl")) and list(release.glob("sharegpt*.jsonl"))
    by_source = {src: [r for r in rows if r["source"] == src]
                 for src in ("clickjacking.pdf", "traversal_zh.pdf")}
    assert all(by_source.values()), f"a language made no sample: {summary['drop_reasons']}"
    for row in by_source["traversal_zh.pdf"]:
        assert detect_lang(row["question"] + row["answer"]) == "zh", row
    for row in by_source["clickjacking.pdf"]:
        assert detect_lang(row["question"] + row["answer"]) == "en", row
    chunks = {c["chunk_id"]: c["text"] for c in
              store.read(str(tmp_path / "home" / "lancedb"), "chunks").to_dicts()}
    assert _check_citations(rows, chunks) > 0, "no citation was located in its chunk"

    card = (release / "summary.json").read_bytes()
    again = _cli(["build", str(corpus), "--out", str(tmp_path / "out")], env, tmp_path)
    assert again.returncode == 0, again.stderr[-4000:]
    # Same content: the published release stays as it was (never rewritten), no request sent.
    output = again.stdout + again.stderr
    assert "LLM requests this build: 0 " in output and "content unchanged" in output, output[-3000:]
    assert sorted((tmp_path / "out" / "releases").glob("v*")) == [release]
    assert (release / "summary.json").read_bytes() == card
