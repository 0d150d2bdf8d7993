"""A changed clean rule re-judges exactly the samples whose cleaned text it changed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from flows.build_dataset import BuildParams, build_dataset, plan_build
from flows.params import resolve
from sftforge import store
from sftforge.llm.endpoints import resolve_endpoints
from sftforge.settings import Settings
from sftforge.demo_corpus import render_markdown_pdf
from tasks.judge import scores_for
from tests.integration.conftest import read_jsonl
from tests.fakellm_values import default_content, schema_of_request
from tests.pdf_fixtures import good_chinese_pdf

pytestmark = pytest.mark.usefixtures("prefect_server")
JUDGE = "You are a strict reviewer"
CONTACT = """# Incident Contacts

## Reporting

Report every suspected breach to soc-team@example.org within one hour of noticing it.
The on-call analyst at soc-team@example.org confirms the report and opens a ticket.
Evidence such as logs goes to soc-team@example.org as an encrypted archive.
"""


def _answers_quote_the_contact(body: dict) -> str:
    """Default replies; answers about the contacts page quote its e-mail sentence."""
    content = default_content(body)
    if "answer" in (schema_of_request(body) or {}).get("properties", {}) and (
            "soc-team@" in json.dumps(body["messages"])):
        return json.dumps({"reasoning": "Breaches are reported to the SOC mailbox.",
                           "answer": "Report every suspected breach to soc-team@example.org "
                                     "within one hour of noticing it.", "citations": []})
    return content


def _judge_requests(log: list[dict]) -> int:
    return sum(r["messages"][0]["content"].startswith(JUDGE) for r in log)


def test_clean_rule_change_rejudges_only_changed_texts(llm_env, tmp_path: Path) -> None:
    llm_env.responder = _answers_quote_the_contact
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    render_markdown_pdf(CONTACT, corpus / "contacts.pdf", title="Incident Contacts")
    good_chinese_pdf(corpus / "zh.pdf")
    first = BuildParams(input_path=str(corpus), out_dir=str(tmp_path / "out"),
                        grounding={"min_score": 0})
    build_dataset(first)
    uri = Settings().db_uri
    before = {r["sample_id"]: r["answer"] for r in store.read(uri, "clean_samples").to_dicts()}
    sent = len(llm_env.log)

    # The new rule keeps e-mail addresses: the contacts answers change, the Chinese ones do not.
    second = BuildParams(input_path=str(corpus), out_dir=str(tmp_path / "out"),
                         grounding={"min_score": 0}, clean={"scrub_pii": False},
                         gate={"allow": ["EMAIL"]})
    summary = build_dataset(second)
    after = {r["sample_id"]: r for r in store.read(uri, "clean_samples").to_dicts()}
    changed = sorted(s for s, a in before.items() if after[s]["answer"] != a and after[s]["kept"])
    assert changed and all("soc-team@example.org" in after[s]["answer"] for s in changed)
    assert _judge_requests(llm_env.log[sent:]) == len(changed)  # nothing else is re-judged
    assert len(llm_env.log) - sent == len(changed)  # and no other LLM call is made

    ctx, _ = plan_build(resolve(second), Settings(), "check", resolve_endpoints(Settings(), None))
    current = scores_for(uri, list(after), ctx.fp("judge"))
    assert set(changed) <= set(current)  # the scores now applied are those of the new texts
    rows = {r["sample_id"]: r for r in read_jsonl(Path(summary["release_dir"]) / "samples.jsonl")}
    for sid in changed:
        if sid in rows:
            assert rows[sid]["scores"]["overall"] == current[sid]["overall"]
