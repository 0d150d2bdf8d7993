"""Sample rules in a real build: a question without its subject is given one from its heading
path, heading citations and vacuous answers are dropped with their reasons in ``selection`` and
on the card, and samples.jsonl carries the observed labels beside the plan's."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from flows.build_dataset import BuildParams, build_dataset
from sftforge.demo_corpus import render_markdown_pdf
from tests.fakellm import default_content, schema_of_request
from tests.integration.conftest import read_jsonl

pytestmark = pytest.mark.usefixtures("prefect_server")

DOC = """# Password Storage

## Key Stretching

Passwords must be stored with a slow, salted hash such as Argon2id, scrypt or bcrypt. A fast
hash like SHA-256 lets an attacker with the database test billions of guesses per second.
Each user gets a unique random salt, and the work factor is raised as hardware gets faster.
"""
SUBJECTLESS = "What are its main limitations?"
ANSWERS = {  # question -> (answer, citations); any other question gets an evidence citation
    SUBJECTLESS: ("It costs the server time at every login, and the work factor must be raised "
                  "as hardware gets faster.",
                  ["the work factor is raised as hardware gets faster"]),
}


def _questions_then_answers(body: dict) -> str:
    """Questions: the first of each request loses its subject. Answers: one per kind of fault,
    chosen by the question, the rest grounded with an evidence quote."""
    schema = schema_of_request(body) or {}
    props = schema.get("properties", {})
    if "questions" in props:
        value = json.loads(default_content(body))
        mine = [SUBJECTLESS, "Which hash functions suit password storage?",
                "Why is SHA-256 a poor choice for passwords?"]
        for item, question in zip(value["questions"], mine):
            item["question"] = question
        return json.dumps(value)
    if "answer" not in props:
        return default_content(body)
    user = body["messages"][-1]["content"]
    if SUBJECTLESS in user:
        answer, quotes = ANSWERS[SUBJECTLESS]
    elif "Which hash functions" in user:  # right answer, its only citation the heading
        answer, quotes = "Argon2id, scrypt or bcrypt.", ["Key Stretching"]
    elif "SHA-256" in user:  # says nothing concrete
        answer, quotes = "It depends on the situation.", []
    else:
        answer, quotes = ("Each user gets a unique random salt.",
                          ["Each user gets a unique random salt"])
    return json.dumps({"reasoning": "The passage covers password hashing.", "answer": answer,
                       "citations": quotes})


def test_rules_drop_rewrite_and_label_in_a_build(llm_env, tmp_path: Path) -> None:
    llm_env.responder = _questions_then_answers
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    render_markdown_pdf(DOC, corpus / "passwords.pdf", title="Password Storage")
    summary = build_dataset(BuildParams(input_path=str(corpus), out_dir=str(tmp_path / "out"),
                                        judge={"self_check_pairs": 0},
                                        questions={"min_per_chunk": 4}))
    clean = summary["drop_reasons"]["clean"]
    assert clean.get("heading_citation", 0) >= 1 and clean.get("vacuous_answer", 0) >= 1
    card = (Path(summary["release_dir"]) / "README.md").read_text("utf-8")
    assert f"| clean: heading_citation | {clean['heading_citation']} |" in card
    assert f"| clean: vacuous_answer | {clean['vacuous_answer']} |" in card
    rows = read_jsonl(Path(summary["release_dir"]) / "samples.jsonl")
    rewritten = [r for r in rows if r.get("question_original") == SUBJECTLESS]
    assert rewritten and {r["question"] for r in rewritten} == {
        "What are the main limitations of key stretching?"}
    assert all(r["qtype"] and r["planned_qtype"] and r["difficulty"] and r["planned_difficulty"]
               for r in rows)
    assert "questions were given their subject" in card
    assert "question types are read off each sample" in card
