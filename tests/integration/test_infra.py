"""infra/: the bootstrap script against a real Prefect server; the compose file's shape
(Docker is not available on the development machine, so compose itself is not run)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

INFRA = Path(__file__).resolve().parents[2] / "infra"
sys.path.insert(0, str(INFRA))

from bootstrap import ensure_llm_limit, store_api_key  # noqa: E402


@pytest.mark.usefixtures("prefect_server")
def test_bootstrap_sets_the_llm_limit_and_the_key_secret() -> None:
    from prefect import get_client
    from prefect.blocks.system import Secret

    name = ensure_llm_limit(3)
    assert ensure_llm_limit(2) == name == "tag:sftforge-llm"  # re-running updates it
    with get_client(sync_client=True) as client:
        assert client.read_global_concurrency_limit_by_name(name).limit == 2
        client.delete_global_concurrency_limit_by_name(name)  # later tests run unlimited
    store_api_key("sftforge-bootstrap-test", "  sk-bootstrap-1  ")
    assert Secret.load("sftforge-bootstrap-test", _sync=True).get() == "sk-bootstrap-1"
    with pytest.raises(SystemExit, match="empty API key"):
        store_api_key("sftforge-bootstrap-test", " ")


def test_compose_shares_one_data_volume_and_keeps_keys_out() -> None:
    text = (INFRA / "compose.yaml").read_text("utf-8")
    services = yaml.safe_load(text)["services"]
    assert {"postgres", "prefect-server", "worker", "watcher", "dask-scheduler",
            "dask-worker"} <= set(services)
    assert "postgresql+asyncpg://" in services["prefect-server"]["environment"][
        "PREFECT_API_DATABASE_CONNECTION_URL"]
    for name in ("worker", "watcher", "dask-worker"):
        assert services[name]["volumes"] == ["sftforge-data:/data"]
        assert services[name]["environment"]["SFTFORGE_HOME"] == "/data/home"
    assert "API_KEY:" not in text  # the key lives in the Secret block, not in the file


def test_shell_scripts_parse() -> None:
    for script in INFRA.glob("*.sh"):
        subprocess.run(["bash", "-n", str(script)], check=True, env=dict(os.environ))
