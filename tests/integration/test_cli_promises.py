"""README promises about the command line and settings, on a real Prefect server against the
scripted server: ``sftforge demo`` builds the demo corpus into a release whose card has real
plots and ``dedup_calibration.md``; ``--no-judge`` sends no judge request; per-role settings
from the environment and a TOML file (``SFTFORGE_CONFIG``) reach the requests and the chunker."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from sftforge import store
from sftforge.demo_corpus import DEMO_DIR
from tests.integration.cli_process import cli_env, run_cli
from tests.integration.conftest import SECRET, read_jsonl
from tests.integration.tiny_corpus import tiny_corpus

pytestmark = pytest.mark.usefixtures("prefect_server", "patient_client")

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
SYSTEM_STARTS = {"questions": "You write exam questions", "answers": "You are a domain expert",
                 "judge": "You are a strict reviewer", "tree": "You organise a corpus"}


def _role(body: dict) -> str:
    system = body["messages"][0]["content"]
    return next((r for r, start in SYSTEM_STARTS.items() if system.startswith(start)), "other")


def _release(out: Path) -> Path:
    releases = sorted((out / "releases").glob("v*"))
    assert releases, f"no release under {out}"
    return releases[-1]


def test_demo_builds_a_release_with_card_plots_and_calibration(llm_env, tmp_path: Path) -> None:
    out = tmp_path / "out"
    code, output = run_cli(["demo", "--out", str(out)], cli_env(tmp_path / "home"))
    assert code == 0, output[-3000:]
    release = _release(out)
    sources = {r["source"] for r in read_jsonl(release / "samples.jsonl")}
    demo_pdfs = {f"{p.stem}.pdf" for p in DEMO_DIR.glob("*.md")}
    assert sources == demo_pdfs, f"every demo document gives samples: {sources}"
    card = (release / "README.md").read_text("utf-8")
    plots = re.findall(r"!\[[^\]]*\]\(([^)]+\.png)\)", card)
    assert plots, "the card shows no plot"
    for name in plots:
        data = (release / name).read_bytes()
        assert data.startswith(PNG_MAGIC) and len(data) > 1000, f"{name} is not a real PNG"
    calibration = (release / "dedup_calibration.md").read_text("utf-8")
    assert calibration.startswith("#") and "cosine" in calibration.lower()


def test_no_judge_sends_no_judge_request(llm_env, tmp_path: Path) -> None:
    out = tmp_path / "out"
    args = ["build", str(tiny_corpus(tmp_path)), "--out", str(out), "--no-judge"]
    code, output = run_cli(args, cli_env(tmp_path / "home"))
    assert code == 0, output[-3000:]
    assert sorted({_role(b) for b in llm_env.log}) == ["answers", "questions", "tree"]
    release = _release(out)
    samples = read_jsonl(release / "samples.jsonl")
    assert samples and all(not r.get("scores") for r in samples)
    summary = json.loads((release / "summary.json").read_text("utf-8"))
    assert not summary["drop_reasons"].get("thresholds")


def test_role_settings_from_environment_and_toml(llm_env, monkeypatch, tmp_path: Path) -> None:
    config = tmp_path / "elsewhere" / "my-settings.toml"
    config.parent.mkdir()
    config.write_text('[answer]\nmodel = "answer-model-from-toml"\n\n'
                      '[chunk]\ntarget_tokens = 30\nmin_tokens = 10\n', "utf-8")
    monkeypatch.setenv("SFTFORGE_JUDGE__MODEL", "judge-model-from-env")
    corpus = tiny_corpus(tmp_path)
    # A downloaded corpus carrying its own settings, built with `sftforge build .` inside it:
    # were they read, every request would go to a dead port under another model name.
    hostile = 'llm_base_url = "http://127.0.0.1:9/v1"\n[answer]\nmodel = "attacker-model"\n'
    (corpus / "sftforge.toml").write_text(hostile, "utf-8")
    (corpus / ".env").write_text("SFTFORGE_LLM_BASE_URL=http://127.0.0.1:9/v1\n", "utf-8")
    out = tmp_path / "out"
    home = tmp_path / "home"
    code, output = run_cli(["build", ".", "--out", str(out), "--config", str(config)],
                           cli_env(home), cwd=corpus)
    assert code == 0, output[-3000:]
    # The host requests go to is named before the first one; the key never is.
    assert "LLM endpoints: question, answer, judge -> 127.0.0.1:" in output, output[-3000:]
    assert SECRET not in output
    models = {(_role(b), b["model"]) for b in llm_env.log}
    assert models == {("tree", "fake-model"), ("questions", "fake-model"), ("answers", "answer-model-from-toml"),
                      ("judge", "judge-model-from-env")}
    chunks = store.read(str(home / "lancedb"), "chunks").to_dicts()
    # 4 sections of 62-68 tokens (4 chunks by default): a 30-token target cuts each in 3
    assert len(chunks) == 12, [(c.get("n_tokens"), c["text"][:30]) for c in chunks]
