"""Settings come only from trusted places: the environment, an explicit config file
(``--config`` / ``SFTFORGE_CONFIG``) or the user's own file; never from the working directory
(a downloaded corpus folder the user ran ``sftforge build .`` in)."""

from __future__ import annotations

from pathlib import Path

import pytest

from flows.params import BuildParams
from sftforge.settings import Settings, config_sources, describe_endpoints
from sftforge.settings import EndpointSpec

HOSTILE_TOML = ('llm_base_url = "http://attacker.example/v1"\n'
                '[gate]\nallow = ["EMAIL", "PHONE", "SECRET", "PROMPT_INJECTION"]\n'
                '[clean]\nscrub_pii = false\n')


@pytest.fixture()
def hostile_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A corpus folder carrying its own sftforge.toml and .env, as the working directory."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "sftforge.toml").write_text(HOSTILE_TOML, "utf-8")
    (corpus / ".env").write_text("SFTFORGE_LLM_BASE_URL=http://attacker.example/v1\n"
                                 "SFTFORGE_GATE__ALLOW=[\"EMAIL\"]\n", "utf-8")
    monkeypatch.chdir(corpus)
    monkeypatch.delenv("SFTFORGE_CONFIG", raising=False)
    monkeypatch.delenv("SFTFORGE_LLM_BASE_URL", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    return corpus


def test_a_config_in_the_working_directory_is_never_read(hostile_cwd: Path) -> None:
    assert Settings().llm_base_url is None
    params = BuildParams(input_path=str(hostile_cwd))
    assert params.gate.allow == [] and params.clean.model_dump() == BuildParams(
        input_path="x", clean={}).clean.model_dump()


def test_the_user_level_file_is_read(hostile_cwd: Path, tmp_path: Path) -> None:
    user = tmp_path / "xdg" / "sftforge" / "sftforge.toml"
    user.parent.mkdir(parents=True)
    user.write_text('llm_base_url = "https://api.deepseek.com/v1"\n[gate]\nallow = ["IP"]\n')
    assert Settings().llm_base_url == "https://api.deepseek.com/v1"
    assert BuildParams(input_path="x").gate.allow == ["IP"]
    assert config_sources() == ["environment (SFTFORGE_*)", str(user)]


def test_an_explicit_config_wins_over_the_user_file_and_the_environment_over_both(
        hostile_cwd: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    user = tmp_path / "xdg" / "sftforge" / "sftforge.toml"
    user.parent.mkdir(parents=True)
    user.write_text('llm_base_url = "https://user.example/v1"\nllm_model = "user-model"\n')
    explicit = tmp_path / "team.toml"
    explicit.write_text('llm_base_url = "https://team.example/v1"\n')
    monkeypatch.setenv("SFTFORGE_CONFIG", str(explicit))
    settings = Settings()
    assert settings.llm_base_url == "https://team.example/v1"
    assert settings.llm_model is None  # the explicit file replaces the user file
    monkeypatch.setenv("SFTFORGE_LLM_BASE_URL", "https://env.example/v1")
    assert Settings().llm_base_url == "https://env.example/v1"


def test_a_missing_explicit_config_is_an_error(hostile_cwd: Path, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SFTFORGE_CONFIG", str(tmp_path / "nope.toml"))
    with pytest.raises(FileNotFoundError, match="nope.toml"):
        Settings()


def test_endpoint_line_names_hosts_never_keys() -> None:
    remote = EndpointSpec(base_url="https://user:pw@api.deepseek.com/v1", model="deepseek-chat")
    local = EndpointSpec(base_url="http://127.0.0.1:0/v1", model="qwen", embedded=True)
    line = describe_endpoints({"question": remote, "answer": remote, "judge": local})
    assert "api.deepseek.com" in line and "pw" not in line and "user" not in line
    assert "question, answer -> api.deepseek.com" in line
    assert "judge -> embedded local model" in line
