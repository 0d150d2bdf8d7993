"""The LLM API key comes from a Prefect Secret block when the one named in settings exists."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from flows.build_dataset import BuildParams, build_dataset
from sftforge.llm.endpoints import api_key
from tests.fakellm import FakeLLM
from tests.integration.conftest import files_containing
from tests.pdf_fixtures import good_english_pdf

pytestmark = pytest.mark.usefixtures("prefect_server")
BLOCK_KEY = "sk-block-7d41c2-never-a-parameter"


def test_build_reads_the_key_from_the_secret_block(sftforge_home: Path, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from prefect.blocks.system import Secret

    with FakeLLM(api_key=BLOCK_KEY) as llm:  # answers 401 to any other key
        monkeypatch.setenv("SFTFORGE_LLM_BASE_URL", llm.base_url)
        monkeypatch.setenv("SFTFORGE_LLM_API_KEY", "sk-stale-settings-key")
        monkeypatch.setenv("SFTFORGE_API_KEY_BLOCK", "sftforge-test-llm-key")
        assert api_key("answer").get_secret_value() == "sk-stale-settings-key"  # no block yet
        Secret(value=BLOCK_KEY).save("sftforge-test-llm-key", overwrite=True)
        assert api_key("answer").get_secret_value() == BLOCK_KEY

        good_english_pdf(tmp_path / "handbook_en.pdf")
        summary = build_dataset(BuildParams(input_path=str(tmp_path / "handbook_en.pdf"),
                                            out_dir=str(tmp_path / "out"), judge_enabled=False))
    assert summary["llm_requests"] == llm.requests > 0
    assert summary["counts"]["exported"] > 0 and not summary["failures"]
    assert files_containing(tmp_path, BLOCK_KEY) == []
    assert files_containing(Path(os.environ["PREFECT_LOCAL_STORAGE_PATH"]), BLOCK_KEY) == []


def test_the_gate_knows_the_key_kept_in_the_secret_block(sftforge_home: Path, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from prefect.blocks.system import Secret

    from sftforge.release.gate import GateFailed
    from sftforge.release.staging import staging_dir
    from tasks.gate import GateSettings, gate_release

    # Only in the block (no setting or variable holds it), and not token-shaped: only the
    # configured-key check can see it.
    block_only = "violet-anchor-teapot-block-5e2a"
    monkeypatch.delenv("SFTFORGE_LLM_API_KEY", raising=False)
    monkeypatch.setenv("SFTFORGE_API_KEY_BLOCK", "sftforge-test-gate-key")
    Secret(value=block_only).save("sftforge-test-gate-key", overwrite=True)
    staged = staging_dir(tmp_path / "out" / "releases", "run", "v0001-abcd")
    (staged / "samples.jsonl").write_text(
        '{"answer": "the header value is ' + block_only + ' here"}\n', "utf-8")
    with pytest.raises(GateFailed) as failed:
        gate_release(str(staged), GateSettings())
    assert {f.kind for f in failed.value.report.findings} == {"CONFIGURED_KEY"}
