"""Free-text (teacher) answers: gateway jobs without a schema, and the answers stage's mode."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import pytest

from sftforge.grounding.quote_block import split_quote_block
from sftforge.llm.gateway import LLMGateway, LLMJob
from sftforge.settings import EndpointSpec, ResolvedEndpoint
from sftforge.stage import BuildContext
from tasks.answers import Answer, AnswersStage, answer_mode
from tests.fakellm import FakeLLM

CHUNK = ("Prepared statements keep user data apart from SQL code. Input validation alone does not "
         "stop SQL injection.")
# A long Markdown answer with a list, a table and a code block (> 2000 characters).
MARKDOWN = "\n\n".join([
    "## Why prepared statements work",
    "Prepared statements send the query text and the data separately:\n\n"
    "1. the database parses the query once;\n2. parameters are bound as values, never as code.",
    "| approach | stops injection |\n|---|---|\n| prepared statements | yes |\n"
    "| escaping by hand | sometimes |",
    "```python\ncur.execute(\"SELECT * FROM users WHERE name = %s\", (name,))\n```",
    *[f"Point {i}: binding keeps every value out of the parser, so quotes in the value are only "
      f"data and the structure of the query cannot change." for i in range(20)],
])
REASONING = "The user asks why; the passage says data stays apart from code. I explain binding."


@pytest.fixture
def fake() -> Iterator[FakeLLM]:
    with FakeLLM() as server:
        yield server


def _gateway(fake: FakeLLM, tmp_path: Path, mode: str = "json_object") -> LLMGateway:
    ep = ResolvedEndpoint(base_url=fake.base_url, model="teacher", timeout_s=2.0, max_retries=1,
                          json_mode=mode)
    return LLMGateway(ep, tmp_path, run_id="r", stage="answers")


def _teacher(body: dict[str, Any]) -> dict[str, Any]:
    return {"content": MARKDOWN + "\n\nQUOTES:\n> Prepared statements keep user data apart from "
            "SQL code.", "reasoning_content": REASONING}


def test_free_text_job_keeps_the_whole_markdown_and_the_reasoning(fake: FakeLLM,
                                                                  tmp_path: Path) -> None:
    fake.responder = _teacher
    messages = [{"role": "system", "content": "Teach."}, {"role": "user", "content": "Why?"}]
    (res,) = _gateway(fake, tmp_path).run([LLMJob("q1", messages, schema=None)])
    assert res.ok and res.reasoning == REASONING
    assert res.value == {"text": _teacher({})["content"]}
    body = fake.log[0]
    assert "response_format" not in body and body["messages"] == messages  # no JSON instruction
    # Cached like JSON answers: a second run sends nothing.
    (again,) = _gateway(fake, tmp_path).run([LLMJob("q1", messages, schema=None)])
    assert again.cached and again.value == res.value and fake.requests == 1


def test_think_block_is_split_off_a_free_text_reply(fake: FakeLLM, tmp_path: Path) -> None:
    fake.responder = lambda body: "<think>First the facts.</think>\n" + MARKDOWN
    (res,) = _gateway(fake, tmp_path).run([LLMJob("q", [{"role": "user", "content": "x"}], None)])
    assert res.value == {"text": MARKDOWN} and res.reasoning == "First the facts."


def test_answers_stage_mode_follows_the_endpoint() -> None:
    def ctx(mode: str) -> BuildContext:
        return BuildContext(db_uri="x", home="x", run_id="r", endpoints={
            "answer": EndpointSpec(base_url="http://x", model="m", json_mode=mode)})
    assert answer_mode(ctx("schema_object")) == "json"
    assert answer_mode(ctx("json_object")) == "text"
    assert answer_mode(ctx("schema_object"), "text") == "text"
    stage = AnswersStage()
    assert stage.schema_for({"answer_mode": "json"}) is Answer
    assert stage.schema_for({"answer_mode": "text"}) is None
    # Text mode has its own fingerprint; json mode keeps the one it had before the setting.
    fps = {m: AnswersStage(mode=m).fingerprint(ctx("json_object")) for m in ("json", "text")}
    assert fps["json"] != fps["text"] and fps["json"] == stage.fingerprint(ctx("schema_object"))
    # Text answers get room to be long; JSON jobs keep the endpoint's max_tokens.
    row = {"question_id": "q", "text": "t", "question": "q?", "heading_path": "", "lang": "en"}
    assert stage.job({**row, "answer_mode": "text"}).max_tokens == 8192
    assert stage.job({**row, "answer_mode": "json"}).max_tokens is None
    assert AnswersStage(mode="text", text_max_tokens=4096).fingerprint(ctx("json_object")) != \
        fps["text"]


def test_text_answer_row_keeps_markdown_and_verifies_quotes() -> None:
    row = {"question_id": "q1", "chunk_id": "c1", "doc_id": "d1", "source": "a.pdf",
           "page_start": 3, "question": "Why do prepared statements stop SQL injection?",
           "text": CHUNK, "qtype": "reasoning", "difficulty": 3, "answer_mode": "text",
           "output_fingerprint": "fp", "output_model": "teacher"}
    text = _teacher({})["content"] + "\n> Not in the passage at all, invented."
    (out,) = AnswersStage().format_output({"text": text}, row, REASONING)
    assert out["answer"] == MARKDOWN and len(out["answer"]) > 2000 and "```python" in out["answer"]
    assert out["cot"] == REASONING and out["citations_removed"] == 1
    assert '"page": 3' in out["citations"] and "apart from SQL code" in out["citations"]


@pytest.mark.parametrize("reply, answer, quotes", [
    ("答案。\n\nQUOTES：\n> 「参数化查询」\n", "答案。", ["参数化查询"]),
    ("Plain answer, no block.", "Plain answer, no block.", []),
    ("```\nQUOTES:\n```\ntail", "```\nQUOTES:\n```\ntail", []),  # inside code, not trailing
])
def test_split_quote_block(reply: str, answer: str, quotes: list[str]) -> None:
    assert split_quote_block(reply) == (answer, quotes)
