"""README promise: "every LLM request is cached on disk ... so a crashed run resumes for free".

``sftforge build`` runs in a subprocess against the scripted server (one request at a time, each
answered after a delay), is SIGKILLed once the server has answered some answers-stage requests,
and is run again: no answered request goes out twice, except the one in flight at the kill.
"""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest

from sftforge.llm.cache import request_key
from tests.integration.cli_process import cli_env, start_cli
from tests.integration.tiny_corpus import tiny_corpus

pytestmark = pytest.mark.usefixtures("prefect_server", "patient_client")

ANSWER_PROMPT = "You are a domain expert"  # the answers stage's system prompt starts so


def _answers_logged(log: list[dict]) -> int:
    return sum(b["messages"][0]["content"].startswith(ANSWER_PROMPT) for b in log)


def test_killed_build_resumes_without_sending_answered_requests_again(
        fake_llm, llm_env, tmp_path: Path) -> None:
    corpus, out, home = tiny_corpus(tmp_path), tmp_path / "out", tmp_path / "home"
    # One request at a time: "in flight at the kill" is then at most one request.
    env = cli_env(home, SFTFORGE_LLM_CONCURRENCY="1")
    args = ["build", str(corpus), "--out", str(out)]
    fake_llm.latency_s = 0.4
    proc = start_cli(args, env)
    deadline = time.monotonic() + 300  # a guard against a hung child, not a timing assertion
    while _answers_logged(list(fake_llm.log)) < 2 and proc.poll() is None:
        assert time.monotonic() < deadline, "the build never reached the answers stage"
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the build finished before it could be killed"
    while fake_llm.in_flight:  # a request received before the kill is still being answered
        assert time.monotonic() < deadline
        time.sleep(0.05)
    before = [request_key(b) for b in fake_llm.log]
    # One request at a time, and each answer is cached before the next request goes out: only
    # the last request the server answered can have been in flight at the kill.
    in_flight = {before[-1]}

    fake_llm.latency_s = 0.0
    again = start_cli(args, env)
    output, _ = again.communicate(timeout=600)
    assert again.returncode == 0, output[-3000:]
    resent = set(before) & {request_key(b) for b in fake_llm.log[len(before):]}
    assert resent <= in_flight, f"{len(resent)} answered requests were sent again"
    assert _answers_logged(fake_llm.log) == 4 + len(resent), "every question answered once"
    assert list((out / "releases").glob("v*/samples.jsonl"))
