"""The budget cap stops a build cleanly (real Prefect server, LanceDB, PDFs, scripted server):
finished calls are kept, the CLI exits non-zero with a clear message, and the next build with a
higher cap pays only for what was not done."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flows.build_dataset import BuildParams, build_dataset
from sftforge import store
from sftforge.cli import app
from sftforge.settings import Settings
from tests.corpus_fixtures import write_topics

pytestmark = pytest.mark.usefixtures("prefect_server")

# The scripted server reports ~100-300 tokens a request: at $1000 per 1M tokens each request
# costs about $0.1-0.3 (the domain tree's more), so a $1.6 cap is reached after a few of the
# corpus's 9+ requests.
PRICES = json.dumps({"fake-model": {"prompt": 1000, "completion": 1000}})


def test_budget_cap_stops_the_build_and_the_next_build_resumes(
        llm_env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    corpus, out = tmp_path / "corpus", tmp_path / "out"
    write_topics(corpus, [0, 1, 2, 3, 4, 5])
    monkeypatch.setenv("SFTFORGE_PRICES", PRICES)
    monkeypatch.setenv("SFTFORGE_BUDGET_USD", "1.6")
    runner = CliRunner()
    stopped = runner.invoke(app, ["build", str(corpus), "--out", str(out)])
    assert stopped.exit_code == 3, stopped.output[-3000:]
    assert "build stopped at the budget cap" in stopped.output
    assert "budget exhausted" in stopped.output and "SFTFORGE_BUDGET_USD=1.6" in stopped.output
    # The domain tree request comes first; then the cap stops the questions stage (6 chunks).
    paid = sum(b["messages"][0]["content"].startswith("You write exam questions")
               for b in llm_env.log)
    assert 0 < paid < 6
    db = Settings().db_uri
    kept = store.count(db, "questions")
    assert kept > 0 and not (out / "releases").exists()
    assert store.count(db, "failures") == 0  # unsent items are pending, not failures

    monkeypatch.setenv("SFTFORGE_BUDGET_USD", "1000")
    # In-process (a second CliRunner flow run trips over Prefect's console handler of the first).
    summary = build_dataset(BuildParams(input_path=str(corpus), out_dir=str(out)))
    # The questions finished before the stop were not asked again.
    assert summary["stages"]["questions"]["llm_requests"] == 6 - paid
    assert summary["cost_usd"] > 0 and summary["usage_by_role"]["question"]["cost_usd"] > 0
