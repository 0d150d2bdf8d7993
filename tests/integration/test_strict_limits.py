"""Strict limits (real Prefect server, scripted server): a remote role without an RPM/TPM limit,
or a server without the LLM task concurrency limit, stops the build before any request with a
message that says what to set; with both in place the same build runs."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Iterator

import pytest
from prefect import get_client
from prefect.exceptions import ObjectNotFound
from typer.testing import CliRunner

from flows.build_dataset import BuildParams, build_dataset
from sftforge.cli import app
from sftforge.llm.limits import MissingLimit
from sftforge.stage import LLM_TAG
from tests.corpus_fixtures import write_topics

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "infra"))
from bootstrap import ensure_llm_limit  # noqa: E402

pytestmark = pytest.mark.usefixtures("prefect_server")


def drop_llm_limit() -> None:
    """Remove the LLM task concurrency limit from the test server, if it is there."""
    with get_client(sync_client=True) as client:
        try:
            client.delete_global_concurrency_limit_by_name(f"tag:{LLM_TAG}")
        except ObjectNotFound:
            pass


@pytest.fixture()
def llm_limit() -> Iterator[str]:
    """The LLM task concurrency limit, removed afterwards so other tests run unlimited."""
    yield ensure_llm_limit(4)
    drop_llm_limit()


def test_strict_limits_refuse_an_unmetered_build(llm_env, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    corpus, out = tmp_path / "corpus", tmp_path / "out"
    write_topics(corpus, [0, 1])
    monkeypatch.setenv("SFTFORGE_LLM_LIMITS_STRICT", "true")
    refused = CliRunner().invoke(app, ["build", str(corpus), "--out", str(out)])
    assert refused.exit_code == 2, refused.output[-3000:]
    flat = " ".join(refused.output.split())
    for role in ("question", "answer", "judge"):
        assert f"{role} (fake-model at {llm_env.base_url})" in flat
    assert "SFTFORGE_LLM_RPM" in flat and llm_env.log == []

    monkeypatch.setenv("SFTFORGE_LLM_RPM", "6000")
    drop_llm_limit()
    with pytest.raises(MissingLimit, match=f"tag:{LLM_TAG}.*infra/bootstrap.py"):
        build_dataset(BuildParams(input_path=str(corpus), out_dir=str(out)))
    assert llm_env.log == [] and not (out / "releases").exists()


def test_strict_limits_let_a_metered_build_run(llm_env, llm_limit: str, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    corpus, out = tmp_path / "corpus", tmp_path / "out"
    write_topics(corpus, [0, 1])
    monkeypatch.setenv("SFTFORGE_LLM_LIMITS_STRICT", "true")
    monkeypatch.setenv("SFTFORGE_LLM_RPM", "6000")
    summary = build_dataset(BuildParams(input_path=str(corpus), out_dir=str(out)))
    assert summary["counts"]["exported"] > 0 and llm_env.log
