"""Grounding in a build: an answer its passage does not support is dropped before the judge."""

from __future__ import annotations

from pathlib import Path

import pytest

from flows.build_dataset import BuildParams, build_dataset
from tests.integration.conftest import read_jsonl
from tests.pdf_fixtures import good_chinese_pdf, good_english_pdf

pytestmark = pytest.mark.usefixtures("prefect_server")
JUDGE = "You are a strict reviewer"


def test_ungrounded_answers_are_dropped_without_a_judge_call(llm_env, tmp_path: Path) -> None:
    llm_env.answers = "grounded"
    # Every answer about the English handbook's first section is invented.
    llm_env.add_fault("invented", times=-1, match=("\nQuestion:", "Injection"))
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    good_english_pdf(corpus / "en.pdf")
    good_chinese_pdf(corpus / "zh.pdf")
    summary = build_dataset(BuildParams(input_path=str(corpus), out_dir=str(tmp_path / "out"),
                                        judge={"self_check_pairs": 0}))
    ungrounded = summary["drop_reasons"]["grounding"]["ungrounded"]
    assert ungrounded >= 1
    judged = sum(r["messages"][0]["content"].startswith(JUDGE) for r in llm_env.log)
    clean_drops = sum(summary["drop_reasons"].get("clean", {}).values())
    assert judged == summary["counts"]["samples"] - clean_drops - ungrounded
    rows = read_jsonl(Path(summary["release_dir"]) / "samples.jsonl")
    assert rows and all(r["grounding"] >= 0.6 for r in rows)
    card = (Path(summary["release_dir"]) / "README.md").read_text("utf-8")
    assert f"| grounding: ungrounded | {ungrounded} |" in card
