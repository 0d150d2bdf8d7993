"""The verifier's self-check in a build (summary.json, card table, paid once) and
``sftforge verify`` on the release it wrote (passages read from the data home's store)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flows.build_dataset import BuildParams, build_dataset
from sftforge.cli import app
from sftforge.grounding.planted import FAULT_KINDS
from tests.integration.conftest import read_jsonl
from tests.pdf_fixtures import handbook_corpus

pytestmark = pytest.mark.usefixtures("prefect_server")


def _yes_no(log: list[dict]) -> int:
    return sum(b.get("max_tokens") == 1 for b in log)


def test_self_check_on_the_card_and_verify_a_release(llm_env, tmp_path: Path) -> None:
    llm_env.answers = "grounded"
    corpus = handbook_corpus(tmp_path / "corpus")
    params = BuildParams(input_path=str(corpus), out_dir=str(tmp_path / "out"),
                         scoring="verifier", verify={"self_check_pairs": 18})
    summary = build_dataset(params)
    check = summary["verify_self_check"]
    assert check["pairs"] == 18 and set(check["kinds"]) == {*FAULT_KINDS, "faithful"}
    assert set(check["rates"]) == {"gross", "subtle", "faithful_dropped"}
    release = Path(summary["release_dir"])
    card = (release / "README.md").read_text("utf-8")
    assert "## Verifier self-check" in card and "| heading_citation | subtle |" in card
    assert "faithful dropped" in card
    stored = json.loads((release / "summary.json").read_text("utf-8"))
    assert stored["verify_self_check"]["kinds"] == check["kinds"]

    assert summary["stages"]["verify_self_check"]["llm_requests"] == 18 * 3  # three checks

    # A rebuild asks nothing again: the self-check's checks come from the request cache.
    asked = _yes_no(llm_env.log)
    again = build_dataset(params)
    assert again["verify_self_check"] == check and _yes_no(llm_env.log) == asked
    assert again["stages"]["verify_self_check"]["cache_hits"] == 18 * 3

    out = tmp_path / "audit.jsonl"
    result = CliRunner().invoke(app, ["verify", str(release), "--out", str(out)])
    assert result.exit_code == 0, result.output
    audited, samples = read_jsonl(out), read_jsonl(release / "samples.jsonl")
    assert [r["id"] for r in audited] == [s["sample_id"] for s in samples]
    assert all(r["verdict"] in ("keep", "drop") and "supported" in r for r in audited)
    assert _yes_no(llm_env.log) == asked  # the release's samples were verified in the build
