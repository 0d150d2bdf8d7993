"""README promise: "API keys ... are never logged or written to releases".

The scripted server echoes the presented key, as real providers do: in the body of a 401 and in
an error object inside a 200. After a build that fails on 401 and a build with a persistent
key-echoing fault on one chunk, the key is nowhere: not in the data home (LanceDB, request
cache, Prefect results), the releases, the failure ledger, the CLI's output, the process's
stdout/stderr (Prefect's console logs), nor in the bytes of the Prefect server's database
(flow run parameters, task runs, the logs shipped to the API).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from prefect.settings import get_current_settings

from sftforge import store
from tests.integration.cli_process import cli_env, run_cli
from tests.integration.conftest import SECRET, files_containing
from tests.integration.tiny_corpus import tiny_corpus

pytestmark = pytest.mark.usefixtures("prefect_server", "patient_client")


def _prefect_db_dir() -> Path:
    """The folder of the harness server's SQLite database (with its -wal/-shm files)."""
    url = get_current_settings().server.database.connection_url.get_secret_value()
    assert url.startswith("sqlite"), url
    return Path(url.split(":///", 1)[1]).parent


def test_echoed_api_key_is_nowhere(llm_env, fake_llm, tmp_path: Path) -> None:
    corpus, out, home = tiny_corpus(tmp_path), tmp_path / "out", tmp_path / "home"
    env, build = cli_env(home), ["build", str(corpus), "--out", str(out)]
    fake_llm.api_key = "sk-the-key-the-server-wants"  # every request: 401 echoing SECRET
    refused, refused_out = run_cli(build, env)
    assert refused == 1, refused_out[-2000:]
    assert "build failed: questions: 4 of 4 items failed" in " ".join(refused_out.split())
    assert "llm_failed: http 401" in refused_out

    fake_llm.api_key = SECRET  # the right key, but one chunk's replies echo it in an error body
    fake_llm.add_fault("error_body_key", times=-1, match="## Deserialization")
    built, built_out = run_cli(build, env)
    assert built == 0, built_out[-2000:]
    _, status_out = run_cli(["status", "--json"], env)
    echoed = [b for b in fake_llm.log if "## Deserialization" in b["messages"][-1]["content"]]
    assert echoed, "the key-echoing fault never fired"

    ledger = store.read(str(home / "lancedb"), "failures").to_dicts()
    errors = [r["error"] + (r.get("raw_output") or "") for r in ledger]
    assert any("Quota exceeded for API key ***" in e for e in errors), errors
    assert not any(SECRET in str(r) for r in ledger)
    # the CLI's output holds Prefect's console logs too (every task run, every warning)
    for output in (refused_out, built_out, status_out):
        assert SECRET not in output
    db_dir = _prefect_db_dir()
    db_bytes = b"".join(p.read_bytes() for p in db_dir.iterdir() if p.is_file())
    # the database really holds these builds' parameters and logs, so the grep means something
    assert str(corpus).encode() in db_bytes and b"export:" in db_bytes
    assert SECRET.encode() not in db_bytes
    assert files_containing(tmp_path, SECRET) == []
    assert files_containing(Path(os.environ["PREFECT_LOCAL_STORAGE_PATH"]), SECRET) == []
