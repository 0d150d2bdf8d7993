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
    monkeypatch.setenv("SFTFORGE_LLM_TIMEOUT_S", "1.5")
    monkeypatch.setenv("SFTFORGE_LLM_MAX_RETRIES", "2")
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
