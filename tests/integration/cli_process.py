"""``sftforge`` run as a user runs it: a separate process, against the session's Prefect server
and the environment the test set up (the scripted LLM server's URL and key)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from prefect.settings import get_current_settings

ROOT = Path(__file__).parents[2]


def cli_env(home: Path, **extra: str) -> dict[str, str]:
    """The test process's environment plus the data home, the harness's Prefect API and
    ``extra`` (e.g. ``SFTFORGE_LLM_CONCURRENCY="1"``)."""
    return dict(os.environ, SFTFORGE_HOME=str(home),
                PREFECT_API_URL=str(get_current_settings().api.url), **extra)


def start_cli(args: list[str], env: dict[str, str], cwd: Path = ROOT) -> subprocess.Popen:
    """``python -m sftforge.cli ARGS`` in the background (in ``cwd``), stdout and stderr
    merged."""
    env = {**env, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))}
    return subprocess.Popen([sys.executable, "-m", "sftforge.cli", *args], env=env, cwd=cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def run_cli(args: list[str], env: dict[str, str], cwd: Path = ROOT) -> tuple[int, str]:
    """(exit code, stdout + stderr) of ``python -m sftforge.cli ARGS`` run in ``cwd``."""
    proc = start_cli(args, env, cwd)
    output, _ = proc.communicate(timeout=900)
    return proc.returncode, output
