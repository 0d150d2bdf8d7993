"""README promise: "every LLM request is cached on disk ... so a crashed run resumes for free".

``sftforge build`` runs in a subprocess against the scripted server (one request at a time, each
answered after a delay), is SIGKILLed once the server has answered some answers-stage requests,
and is run again: no answered request goes out twice, except the one in flight at the kill.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from prefect.settings import get_current_settings

from sftforge.llm.cache import request_key
from tests.integration.tiny_corpus import tiny_corpus

pytestmark = pytest.mark.usefixtures("prefect_server")

ANSWER_PROMPT = "You are a domain expert"  # the answers stage's system prompt starts so


def _cli_env(home: Path) -> dict[str, str]:
    """The test's environment (the scripted server's URL and key), the session's Prefect server,
    and one request at a time so "in flight at the kill" is at most one request."""
    env = dict(os.environ, SFTFORGE_HOME=str(home), SFTFORGE_LLM_CONCURRENCY="1",
               PREFECT_API_URL=str(get_current_settings().api.url))
    return env


def _build(corpus: Path, out: Path, env: dict[str, str]) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "sftforge.cli", "build", str(corpus), "--out", str(out)]
    return subprocess.Popen(cmd, env=env, cwd=Path(__file__).parents[2],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _answers_logged(log: list[dict]) -> int:
    return sum(b["messages"][0]["content"].startswith(ANSWER_PROMPT) for b in log)


def test_killed_build_resumes_without_sending_answered_requests_again(
        fake_llm, llm_env, tmp_path: Path) -> None:
    corpus, out, home = tiny_corpus(tmp_path), tmp_path / "out", tmp_path / "home"
    env = _cli_env(home)
    fake_llm.latency_s = 0.4
    proc = _build(corpus, out, env)
    deadline = time.monotonic() + 300  # a guard against a hung child, not a timing assertion
    while _answers_logged(list(fake_llm.log)) < 2 and proc.poll() is None:
        assert time.monotonic() < deadline, "the build never reached the answers stage"
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the build finished before it could be killed"
    before = [request_key(b) for b in fake_llm.log]
    # One request at a time: only the last one the server logged can have been in flight.
    in_flight = {before[-1]}

    fake_llm.latency_s = 0.0
    again = _build(corpus, out, env)
    output, _ = again.communicate(timeout=600)
    assert again.returncode == 0, output[-3000:]
    resent = set(before) & {request_key(b) for b in fake_llm.log[len(before):]}
    assert resent <= in_flight, f"{len(resent)} answered requests were sent again"
    assert _answers_logged(fake_llm.log) == 4 + len(resent), "every question answered once"
    assert list((out / "releases").glob("v*/samples.jsonl"))
