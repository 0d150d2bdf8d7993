"""Grounding in a build: an answer its passage does not support is dropped before the judge."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from flows.build_dataset import BuildParams, build_dataset
from tests.integration.conftest import read_jsonl
from tests.pdf_fixtures import handbook_corpus

pytestmark = pytest.mark.usefixtures("prefect_server")
JUDGE = "You are a strict reviewer"


def _build_with_fault(llm_env, tmp_path: Path, fault: str, match: tuple[str, ...]) -> dict:
    """Build the two handbooks with grounded scripted answers, ``fault`` on every answer
    request matching ``match``; no judge self-check."""
    llm_env.answers = "grounded"
    llm_env.add_fault(fault, times=-1, match=match)
    corpus = handbook_corpus(tmp_path / "corpus")
    return build_dataset(BuildParams(input_path=str(corpus), out_dir=str(tmp_path / "out"),
                                     judge={"self_check_pairs": 0}))


def test_ungrounded_answers_are_dropped_without_a_judge_call(llm_env, tmp_path: Path) -> None:
    # Every answer about the English handbook's first section is invented.
    summary = _build_with_fault(llm_env, tmp_path, "invented", ("\nQuestion:", "Injection"))
    ungrounded = summary["drop_reasons"]["grounding"]["ungrounded"]
    assert ungrounded >= 1
    judged = sum(r["messages"][0]["content"].startswith(JUDGE) for r in llm_env.log)
    clean_drops = sum(summary["drop_reasons"].get("clean", {}).values())
    assert judged == summary["counts"]["samples"] - clean_drops - ungrounded
    rows = read_jsonl(Path(summary["release_dir"]) / "samples.jsonl")
    assert rows and all(r["grounding"] >= 0.6 for r in rows)
    card = (Path(summary["release_dir"]) / "README.md").read_text("utf-8")
    assert f"| grounding: ungrounded | {ungrounded} |" in card


def test_an_invented_last_sentence_is_cut_and_the_sample_kept(llm_env, tmp_path: Path) -> None:
    summary = _build_with_fault(llm_env, tmp_path, "invented_tail", ("\nQuestion:",))
    rows = read_jsonl(Path(summary["release_dir"]) / "samples.jsonl")
    assert len(rows) >= 4 and "ungrounded" not in summary["drop_reasons"].get("grounding", {})
    trimmed = [r for r in rows if r.get("answer_trimmed")]
    assert {r["answer_trimmed"][0][:4] for r in trimmed} == {"Purp", "紫色量子"}
    # Every answer whose invented sentence stands on its own lost it (one glued to a table row
    # without a full stop is one sentence with it, and the sentence-level score lets it pass).
    english = [r for r in rows if not re.search("[\u4e00-\u9fff]", r["answer"])]
    assert english and all(r.get("answer_trimmed") and r["grounding"] == 1.0 for r in english)
    assert len(trimmed) >= len(rows) - 1
    exported = (Path(summary["release_dir"]) / "alpaca_train.jsonl").read_text("utf-8")
    assert "Purple quantum" not in exported
    card = (Path(summary["release_dir"]) / "README.md").read_text("utf-8")
    assert f"{len(trimmed)} answers lost unsupported last sentences" in card
