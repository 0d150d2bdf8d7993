"""Planted PII never reaches a release: a real build (Prefect server, LanceDB, PDFs written here)
against FakeLLM, whose questions, answers and citation quotes copy source sentences."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from flows.build_dataset import BuildParams, build_dataset
from sftforge.cleaning.detect_view import detection_text
from sftforge.demo_corpus import render_markdown_pdf
from sftforge.release.gate import scan_release
from tests.integration.conftest import SECRET, read_jsonl

pytestmark = pytest.mark.usefixtures("prefect_server")

# value -> the placeholder the scrubber must put in its place
PLANTED = {
    "ops.lead@acme-security.com": "[EMAIL]",
    "203.0.113.77": "[IP]",
    "(415) 555-0132": "[PHONE]",
    "4111 1111 1111 1111": "[BANK_CARD]",
    "11010519491231002X": "[CN_ID]",
    "13912345678": "[PHONE]",
}

# Every sentence carries every planted value of its language: whatever sentence FakeLLM copies
# into a question, answer or quote, each kind is there.
EN_FACTS = (
    "Page ops.lead@acme-security.com or call (415) 555-0132 when 203.0.113.77 probes the login "
    "form and card 4111 1111 1111 1111 shows up in the checkout logs.",
    "Block 203.0.113.77 at the edge, refund card 4111 1111 1111 1111, then report to "
    "ops.lead@acme-security.com and (415) 555-0132 within fifteen minutes.",
    "When (415) 555-0132 is unreachable, ops.lead@acme-security.com decides whether 203.0.113.77 "
    "stays blocked and whether card 4111 1111 1111 1111 is cancelled.",
)
ZH_FACTS = (
    "身份证号11010519491231002X的管理员审批防火墙规则变更，手机13912345678的值班工程师执行变更。",
    "发现注入攻击时，手机13912345678的值班工程师必须通知身份证号11010519491231002X的管理员。",
    "身份证号11010519491231002X的管理员每周复核访问日志，并把结果发给手机13912345678的值班工程师。",
)
# Issue 20: the same kinds spelled to slip past a pattern, in a Markdown runbook. The values
# are compared on their letters and digits only, however a file spells them.
ZWJ = "\u200d"
SPELLED = {
    "440308199901011234": ZWJ.join(["440308", "19990101", "1234"]),  # ZWJ-joined CN ID
    "13712345678": "137.1234.5678",  # mobile split by dots
    "15888886666": "".join(chr(ord(c) + 0xFEE0) for c in "15888886666"),  # full-width
    "zhangweicorpexample": "zhang.wei [at] corp-example [dot] cn",
}
SPELLED_FACTS = (
    f"值班主管身份证 {SPELLED['440308199901011234']}，手机 {SPELLED['13712345678']}，"
    f"邮箱 {SPELLED['zhangweicorpexample']}，备用手机 {SPELLED['15888886666']}，负责审批所有变更。",
    f"发生故障时先联系 {SPELLED['zhangweicorpexample']}，再拨打 {SPELLED['13712345678']} 或 "
    f"{SPELLED['15888886666']}，身份证 {SPELLED['440308199901011234']} 的主管确认后才能回滚。",
)
EN_TOPICS = ("Escalation", "Containment", "Recovery", "Review")
ZH_TOPICS = ("升级流程", "遏制措施", "恢复步骤", "事后复盘")


def _markdown(title: str, topics: tuple[str, ...], facts: tuple[str, ...], sep: str) -> str:
    """Sections whose every sentence carries planted PII, so any copied sentence does."""
    parts = [f"# {title}"]
    for i, topic in enumerate(topics):
        body = sep.join(facts[(i + k) % len(facts)] for k in range(len(facts) * 2))
        parts += [f"## {topic}", body]
    return "\n\n".join(parts) + "\n"


def _core(text: str) -> str:
    """Letters and digits of the detection view: how a spelled value is looked for."""
    return re.sub(r"[\W_]", "", detection_text(text)).lower()


def test_no_planted_pii_in_any_release_file(llm_env, tmp_path: Path) -> None:
    corpus, out = tmp_path / "corpus", tmp_path / "out"
    corpus.mkdir()
    (corpus / "runbook_spelled.md").write_text(
        _markdown("值班手册", ZH_TOPICS, SPELLED_FACTS, ""), "utf-8")
    render_markdown_pdf(_markdown("Incident Response Runbook", EN_TOPICS, EN_FACTS, " "),
                        corpus / "runbook_en.pdf", title="Runbook", paper="a5")
    render_markdown_pdf(_markdown("事件响应手册", ZH_TOPICS, ZH_FACTS, ""),
                        corpus / "runbook_zh.pdf", title="手册", paper="a5")
    result = build_dataset(BuildParams(input_path=str(corpus), out_dir=str(out)))
    release = Path(result["release_dir"])
    samples = read_jsonl(release / "samples.jsonl")
    assert samples, "no sample exported"
    files = [p for p in release.rglob("*") if p.is_file()]
    leaks = [(p.name, value) for p in files for value in PLANTED
             if value.encode() in p.read_bytes()]
    assert leaks == []
    spelled = [(p.name, value) for p in files if p.suffix in (".jsonl", ".json", ".md")
               for value in (*SPELLED, "opsleadacmesecurity") if value in _core(p.read_text("utf-8"))]
    assert spelled == []
    assert {s["source"] for s in samples} >= {"runbook_spelled.md"}  # the document built
    # the quotes were copied from the raw chunks: they keep spans and show placeholders
    quotes = [c for s in samples for c in s["citations"]]
    assert quotes and all(c["start"] >= -1 and "quote" in c for c in quotes)
    exported = (release / "samples.jsonl").read_text("utf-8")
    shown = {p for p in PLANTED.values() if p in exported}
    assert shown == set(PLANTED.values()), f"placeholders seen: {sorted(shown)}"
    quoted = "".join(c["quote"] for c in quotes)
    assert any(p in quoted for p in PLANTED.values())
    # and the release gate agrees: nothing left in any file
    report = scan_release(release, secrets=[SECRET], allow=set())
    assert report.findings == [], [f.describe() for f in report.findings]
    assert report.passed
