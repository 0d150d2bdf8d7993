"""The verifier in a real build against the scripted server's evidence-based yes/no: faithful
pairs are kept, an invented answer is dropped as ``unsupported`` and an off-topic one as
``does_not_answer`` (English and Chinese); a threshold change re-selects with no request."""

from __future__ import annotations

from pathlib import Path

import pytest

from flows.build_dataset import BuildParams, build_dataset
from sftforge import store
from sftforge.demo_corpus import render_markdown_pdf
from sftforge.settings import Settings
from tests.integration.conftest import read_jsonl

pytestmark = pytest.mark.usefixtures("prefect_server")

# One short section per document: one chunk, one question each (as in test_judge_evidence).
DOCS = {
    "good.pdf": ("Backup Rules", "Backup copies belong in another building. Offline backup "
                 "tapes resist ransomware. Restore drills prove backup copies work."),
    "invented.pdf": ("Argon2id Hashing", "Argon2id stretches each password with memory-hard "
                     "rounds. A unique salt defeats precomputed tables."),
    "offtopic.pdf": ("Printer Hygiene", "Printer trays keep forgotten documents overnight. "
                     "Firmware updates close remote holes. Badge release stops strangers "
                     "collecting pages."),
    "good_zh.pdf": ("备份规则", "备份副本应当存放在另一栋楼里。离线备份磁带可以抵御勒索软件。"
                    "定期恢复演练证明备份副本可用。"),
    "invented_zh.pdf": ("密码哈希", "密码应当使用加盐的慢哈希存储。每个用户都有唯一的随机盐值。"
                        "工作因子要随着硬件变快而提高。"),
}


def _build(corpus: Path, out: Path, **verify: float) -> dict:
    return build_dataset(BuildParams(
        input_path=str(corpus), out_dir=str(out), scoring="verifier",
        grounding={"min_score": 0},  # grounding off: the verifier alone
        # requests counted: no planted pairs; one set of thresholds for both languages (the
        # scripted server's P(yes) does not lean to Chinese like the embedded model's)
        verify={"min_supported_zh": None, "min_answers_zh": None, "min_self_contained_zh": None,
                **verify, "self_check_pairs": 0}))


def test_verifier_drops_with_reasons_and_thresholds_cost_no_request(
        llm_env, tmp_path: Path) -> None:
    llm_env.answers = "grounded"
    llm_env.add_fault("invented", times=-1, match=("\nQuestion:", "Argon2id"))
    llm_env.add_fault("invented", times=-1, match=("\nQuestion:", "加盐"))
    llm_env.add_fault("off_topic", times=-1, match=("\nQuestion:", "Printer"))
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name, (title, body) in DOCS.items():
        render_markdown_pdf(f"# {title}\n\n{body}\n", corpus / name, title=title)
    first = _build(corpus, tmp_path / "out")
    uri = Settings().db_uri
    source = {s["sample_id"]: s["source"] for s in store.read(uri, "samples").to_dicts()}
    dropped = store.read(uri, "selection", where="stage = 'verify_select' AND kept = false")
    reasons = {source[r["sample_id"]]: r["reason"] for r in dropped.to_dicts()}
    assert reasons == {"invented.pdf": "unsupported", "invented_zh.pdf": "unsupported",
                       "offtopic.pdf": "does_not_answer"}
    assert "judge" not in first["stages"] and first["counts"]["verified"] == len(DOCS)
    rows = read_jsonl(Path(first["files"]["samples"]) if "samples" in first["files"]
                      else next((tmp_path / "out" / "releases").glob("*/samples.jsonl")))
    assert sorted(r["source"] for r in rows) == ["good.pdf", "good_zh.pdf"]
    assert all(r["checks"]["supported"] > 0.8 and "scores" not in r for r in rows)
    verifications = store.read(uri, "verifications")
    assert verifications.height == len(DOCS) and set(verifications["method"]) == {"logprobs"}
    # Every check of every sample was asked once, as a one-token logprobs request.
    asked = [b for b in llm_env.log if b.get("max_tokens") == 1]
    assert len(asked) == 3 * len(DOCS) and all(b["logprobs"] for b in asked)

    sent = llm_env.requests
    second = _build(corpus, tmp_path / "out", min_supported=0.0)
    assert llm_env.requests == sent and second["llm_requests"] == 0
    # Without the supported threshold, the invented answers fall to the next check (they
    # share no word with their questions either).
    assert second["drop_reasons"]["verify_select"] == {"does_not_answer": 3}
