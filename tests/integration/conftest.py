"""Integration fixtures: the scripted OpenAI-compatible server and an environment pointing at it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator

import pytest

from tests.fakellm import FakeLLM

SECRET = "sk-test-4f1c9e0d7b2a-do-not-leak"


@pytest.fixture()
def fake_llm() -> Iterator[FakeLLM]:
    """A scripted OpenAI-compatible server on 127.0.0.1 that counts requests."""
    with FakeLLM() as server:
        yield server


@pytest.fixture()
def llm_env(monkeypatch: pytest.MonkeyPatch, fake_llm: FakeLLM, sftforge_home: Path) -> FakeLLM:
    """Every role pointed at ``fake_llm``, with short timeouts so fault tests stay quick."""
    monkeypatch.setenv("SFTFORGE_LLM_BASE_URL", fake_llm.base_url)
    monkeypatch.setenv("SFTFORGE_LLM_MODEL", "fake-model")
    monkeypatch.setenv("SFTFORGE_LLM_API_KEY", SECRET)
    # Patient: a busy 2-core machine must not turn slow replies into retries that change
    # request counts; the one test of timeouts sets a short one itself.
    monkeypatch.setenv("SFTFORGE_LLM_TIMEOUT_S", "30")
    monkeypatch.setenv("SFTFORGE_LLM_MAX_RETRIES", "2")
    # The scripted replies (and the tests written against them) are JSON built from the request's
    # schema; a remote endpoint would get free-text answers (tasks/answers.py), tested on its own.
    monkeypatch.setenv("SFTFORGE_ANSWERS__MODE", "json")
    # Follow-ups and DPO pairs switch on by themselves for a remote endpoint; the tests that
    # count requests predate them, and tests/integration/test_teacher_dialogue_dpo.py turns
    # them on.
    monkeypatch.setenv("SFTFORGE_DIALOGUES__ENABLED", "off")
    monkeypatch.setenv("SFTFORGE_PREFERENCES__ENABLED", "off")
    # Likewise genre x audience variants (x4 question and answer requests); the tests of the
    # question mix set them explicitly.
    monkeypatch.setenv("SFTFORGE_GA__PAIRS_PER_DOC", "0")
    return fake_llm


@pytest.fixture()
def patient_client(llm_env: FakeLLM, monkeypatch: pytest.MonkeyPatch) -> FakeLLM:
    """``llm_env`` with a 30 s client timeout: tests that count requests exactly must not see a
    retry because a busy machine answered slower than ``llm_env``'s 1.5 s."""
    monkeypatch.setenv("SFTFORGE_LLM_TIMEOUT_S", "30")
    return llm_env


def read_jsonl(path: Path) -> list[dict]:
    """Rows of a JSON Lines file."""
    return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]


def files_containing(root: Path, needle: str) -> list[Path]:
    """Every file under ``root`` whose bytes contain ``needle``."""
    data = needle.encode()
    return [p for p in root.rglob("*") if p.is_file() and data in p.read_bytes()]
