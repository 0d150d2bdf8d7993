"""README promises about LLM failures, on a real Prefect server against the scripted server:
a persistent fault costs only its item, the next build retries exactly that item (and what
follows from it), and the error budget (default 0.25) decides whether the build fails."""

from __future__ import annotations

from pathlib import Path

import pytest

from flows.build_dataset import BuildParams, build_dataset
from sftforge import store
from sftforge.llm.cache import request_key
from sftforge.settings import Settings
from tests.integration.cli_process import cli_env, run_cli
from tests.integration.conftest import read_jsonl
from tests.integration.tiny_corpus import tiny_corpus

pytestmark = pytest.mark.usefixtures("prefect_server", "patient_client")

QUESTION_PROMPT = "You write exam questions"  # the questions stage's system prompt starts so


def _role(body: dict) -> str:
    """Which stage sent ``body``, from its system prompt."""
    system = body["messages"][0]["content"]
    for role, start in (("questions", QUESTION_PROMPT), ("answers", "You are a domain expert"),
                        ("judge", "You are a strict reviewer"), ("tree", "You organise a corpus")):
        if system.startswith(start):
            return role
    return "other"


def test_fixed_fault_rebuild_sends_only_the_failed_item_and_its_downstream(
        llm_env, tmp_path: Path) -> None:
    corpus, out = tiny_corpus(tmp_path), tmp_path / "out"
    llm_env.answers = "grounded"  # answers that pass cleaning and grounding, so each is judged
    # The questions request of one chunk (of 4) fails on every try: 25%, within the budget.
    llm_env.add_fault("broken_json", times=-1, match=(QUESTION_PROMPT, "## Traversal"))
    first = build_dataset(BuildParams(input_path=str(corpus), out_dir=str(out)))
    uri = Settings().db_uri
    ledger = store.read(uri, "failures").to_dicts()
    traversal = [c["chunk_id"] for c in store.read(uri, "chunks").to_dicts()
                 if "## Traversal" in c["text"]]
    assert [(r["stage"], r["item_id"]) for r in ledger] == [("questions", traversal[0])]
    before = len(llm_env.log)
    old = {r["sample_id"]: r["split"]
           for r in read_jsonl(Path(first["release_dir"]) / "samples.jsonl")}
    assert old

    llm_env.clear_faults()  # the endpoint is fixed
    second = build_dataset(BuildParams(input_path=str(corpus), out_dir=str(out)))
    sent = llm_env.log[before:]
    # Exactly the failed item and what follows from it: its question, that question's answer,
    # and the judge call on the resulting sample; every one about the Traversal chunk.
    assert sorted(_role(b) for b in sent) == ["answers", "judge", "questions"]
    assert all("## Traversal" in b["messages"][-1]["content"] for b in sent)
    # Only the request that failed before goes out again (same body: same prompt, same chunk).
    again = {request_key(b) for b in llm_env.log[:before]} & {request_key(b) for b in sent}
    assert again == {request_key(b) for b in sent if _role(b) == "questions"}
    assert second["llm_requests"] == 3
    assert store.count(uri, "failures") == 0, "the ledger still holds the fixed item"
    new = {r["sample_id"]: r for r in read_jsonl(Path(second["release_dir"]) / "samples.jsonl")}
    added = [r for sid, r in new.items() if sid not in old]
    assert len(added) == 1 and "path" in added[0]["answer"].lower() + added[0]["question"].lower()
    assert {sid: new[sid]["split"] for sid in old} == old, "earlier samples changed split"


def _build_cli(corpus: Path, out: Path) -> tuple[int, str]:
    """(exit code, output) of ``sftforge build`` in its own process, as a user runs it."""
    return run_cli(["build", str(corpus), "--out", str(out)], cli_env(out.parent / "home"))


def test_default_error_budget_tolerates_one_failed_chunk_of_four(llm_env, tmp_path: Path) -> None:
    corpus = tiny_corpus(tmp_path)
    llm_env.add_fault("broken_json", times=-1, match=(QUESTION_PROMPT, "## Redirects"))
    code, output = _build_cli(corpus, tmp_path / "out")
    # 1 of 4 = 25%, which is not above the default budget of 0.25
    assert code == 0, output[-3000:]
    assert "release written to" in output
    assert store.count(Settings().db_uri, "failures") == 1


def test_default_error_budget_fails_two_failed_chunks_of_four(llm_env, tmp_path: Path) -> None:
    corpus = tiny_corpus(tmp_path)
    llm_env.add_fault("broken_json", times=-1, match=(QUESTION_PROMPT, "## Redirects"))
    llm_env.add_fault("broken_json", times=-1, match=(QUESTION_PROMPT, "## Clickjacking"))
    code, output = _build_cli(corpus, tmp_path / "out")
    assert code == 1, output[-3000:]
    message = " ".join(output.split())  # rich wraps long lines
    assert "build failed: questions: 2 of 4 items failed (50% > error budget 25%)" in message
    assert "SFTFORGE_ERROR_BUDGET" in message
    assert not (tmp_path / "out" / "releases").exists() or not any(
        (tmp_path / "out" / "releases").iterdir())
