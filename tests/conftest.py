"""Shared fixtures: one real Prefect server per session, isolated data homes."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Iterator

import pytest

# Set before Prefect is imported anywhere: no telemetry, no writes to the user's ~/.prefect.
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
# Settings read a user-level file (~/.config/sftforge/sftforge.toml): never the developer's own in
# tests. An empty temporary folder (Chromium and matplotlib write their own config there too,
# so not one inside the checkout): no user file unless a test writes one under its own path.
os.environ["XDG_CONFIG_HOME"] = tempfile.mkdtemp(prefix="sftforge-no-user-config-")
os.environ.pop("SFTFORGE_CONFIG", None)


def shared_models_dir() -> Path:
    """Where tests keep the embedded model joined from its parts, across runs
    (``$SFTFORGE_MODELS_DIR``, else ``~/.cache/sftforge/models``): joining 1.1 GB is done once."""
    default = Path.home() / ".cache" / "sftforge" / "models"
    return Path(os.environ.get("SFTFORGE_MODELS_DIR", str(default)))


@pytest.fixture(scope="session")
def prefect_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """A real temporary Prefect server (SQLite) for every flow run of the session."""
    from prefect.testing.utilities import prefect_test_harness

    os.environ["PREFECT_LOCAL_STORAGE_PATH"] = str(tmp_path_factory.mktemp("prefect-results"))
    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture()
def sftforge_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty data home (LanceDB, request cache) for one test."""
    home = tmp_path / "home"
    monkeypatch.setenv("SFTFORGE_HOME", str(home))
    monkeypatch.chdir(tmp_path)  # relative paths land in the test's folder
    return home
