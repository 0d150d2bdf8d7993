"""The release gate in a real build: a model that echoes the endpoint key fails the release."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from flows.build_dataset import BuildParams, build_dataset
from sftforge.release.gate import GateFailed
from tests.fakellm_values import default_content, schema_of_request
from tests.pdf_fixtures import handbook_corpus

pytestmark = pytest.mark.usefixtures("prefect_server")

# Not shaped like a token, so the clean stage's PII/secret patterns do not know it: only the
# gate's check of the configured keys can catch it.
KEY = "correct-horse-battery-staple-4711"


def _echo_key_in_english_answers(body: dict) -> str:
    """Default replies, except answers about the English handbook quote the API key."""
    content = default_content(body)
    schema = schema_of_request(body) or {}
    prompt = json.dumps(body["messages"], ensure_ascii=False)
    if "answer" in schema.get("properties", {}) and not re.search(r"[\u4e00-\u9fff]", prompt):
        reply = json.loads(content)
        reply["answer"] = (f"Send every request with the header key {KEY} and rotate that key "
                           "after each incident, as the security team requires.")
        return json.dumps(reply, ensure_ascii=False)
    return content


def test_gate_refuses_a_release_that_echoes_the_key_and_passes_once_it_is_gone(
        llm_env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SFTFORGE_LLM_API_KEY", KEY)
    llm_env.responder = _echo_key_in_english_answers
    corpus, out = handbook_corpus(tmp_path / "corpus"), tmp_path / "out"
    # The echoed sentence is not in the passage: keep it past the grounding check so the
    # leak reaches the trainer files (the gate is the last line of defence being tested).
    params = BuildParams(input_path=str(corpus), out_dir=str(out), grounding={"min_score": 0})
    with pytest.raises(GateFailed) as failed:
        build_dataset(params)
    bad = [f for f in failed.value.report.findings if not f.allowed]
    assert {f.kind for f in bad} == {"CONFIGURED_KEY"}
    where = {(f.file, f.field) for f in bad}
    assert ("samples.jsonl", "answer") in where
    assert any(file.startswith("alpaca_") and field == "output" for file, field in where)
    assert all(f.row for f in bad if f.file.endswith(".jsonl"))
    assert "samples.jsonl row" in str(failed.value) and KEY not in str(failed.value)
    releases = out / "releases"
    assert not (releases / "LATEST").exists() and not list(releases.glob("v*"))

    (corpus / "handbook_en.pdf").unlink()  # the fix: the leaking material is gone
    summary = build_dataset(params)
    assert summary["gate"]["passed"] and summary["gate"]["findings"] == []
    assert (releases / "LATEST").read_text().strip() == summary["version"]
    card = (Path(summary["release_dir"]) / "README.md").read_text("utf-8")
    n_files = len(summary["gate"]["files"])
    assert f"0 PII, 0 secrets, 0 injection patterns in {n_files} files" in card
