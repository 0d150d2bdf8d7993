"""Citations in a real build: only quotes found in the chunk are kept, with spans and page."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from flows.build_dataset import BuildParams, build_dataset
from sftforge import store
from sftforge.demo_corpus import render_markdown_pdf
from sftforge.settings import Settings
from tests.fakellm import default_content, schema_of_request
from tests.integration.conftest import read_jsonl

pytestmark = pytest.mark.usefixtures("prefect_server")

DOC = """# Password Storage

## Hashing

Passwords must be stored with a slow, salted hash such as Argon2id, scrypt or bcrypt. A fast
hash like SHA-256 lets an attacker with the database test billions of guesses per second.
Each user gets a unique random salt, and the work factor is raised as hardware gets faster.
"""


def _answers_with_one_fabricated_quote(body: dict) -> str:
    schema = schema_of_request(body) or {}
    if "answer" not in schema.get("properties", {}):
        return default_content(body)
    return json.dumps({
        "reasoning": "Speed is what makes a hash weak for passwords: guesses are cheap.",
        "answer": "Store passwords with a slow, salted hash such as Argon2id, scrypt or bcrypt, "
                  "with a unique random salt per user.",
        # the second quote spans a line break of the PDF, the third is invented
        "citations": ["“slow, salted hash such as Argon2id”",
                      "lets an attacker with the database test billions of guesses",
                      "passwords must be hashed with MD5 before storage"],
    })


def test_only_located_quotes_are_exported_with_spans_in_the_chunk(llm_env, tmp_path: Path) -> None:
    llm_env.responder = _answers_with_one_fabricated_quote
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    render_markdown_pdf(DOC, corpus / "passwords.pdf", title="Password Storage")
    summary = build_dataset(BuildParams(input_path=str(corpus), out_dir=str(tmp_path / "out")))
    chunks = {c["chunk_id"]: c for c in store.read(Settings().db_uri, "chunks").to_dicts()}
    rows = read_jsonl(Path(summary["release_dir"]) / "samples.jsonl")
    assert rows
    for row in rows:
        text = chunks[row["chunk_id"]]["text"]
        cited = [" ".join(text[c["start"]:c["end"]].split()) for c in row["citations"]]
        assert cited == ["slow, salted hash such as Argon2id",
                         "lets an attacker with the database test billions of guesses"]
        assert {c["page"] for c in row["citations"]} == {chunks[row["chunk_id"]]["page_start"]}
