"""answers stage: ``questions`` (+ their ``chunks``) -> ``samples``.

Each answer is grounded in its chunk, with the reasoning chain (CoT) in its own ``cot`` column
(from the provider's ``reasoning_content`` / ``<think>`` block, else the model's ``reasoning``
field) and citations: exact quotes located as character spans of the chunk.
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Any

from prefect import task
from pydantic import BaseModel, Field

from sftforge import store
from sftforge.grounding.citations import verify_citations
from sftforge.ids import child_id, fingerprint
from sftforge.llm.gateway import LLMJob, LLMResult
from sftforge.llm.endpoints import (
    LLMContext,
    batch_cache_key,
    language_name,
    resolve_endpoint,
    run_jobs,
    stage_stats,
)
from sftforge.llm.prompting import prompt_sha, render
from sftforge.settings import QuestionSettings
from tasks.questions import questions_fingerprint

# Bounds are part of the JSON schema sent to the model. llama.cpp turns each into grammar
# repetitions; past ~1000 characters in one string the server rejects the grammar and drops
# the connection (measured with llama-cpp-python 0.3.36), so every bound stays below that.
Quote = Annotated[str, Field(max_length=200)]


class Answer(BaseModel):
    """The model's answer to one question."""

    reasoning: str = Field(max_length=900)
    answer: str = Field(min_length=1, max_length=1000)
    citations: list[Quote] = Field(default_factory=list, max_length=3)


def answers_fingerprint(ctx: LLMContext) -> str:
    """Fingerprint of everything that changes an answer: prompt, model, sampling."""
    ep = resolve_endpoint(ctx, "answer")
    return fingerprint(
        "answers", prompt=prompt_sha("answers"), model=ep.model,
        temperature=ep.temperature, max_tokens=ep.max_tokens,
    )


def current_questions(db_uri: str, doc_id: str, q_fp: str) -> list[dict[str, Any]]:
    """Questions of ``doc_id`` made under the current questions fingerprint."""
    where = f"doc_id = '{doc_id}' AND fingerprint = '{q_fp}'"
    return store.read(db_uri, "questions", where=where).sort(["chunk_id", "idx"]).to_dicts()


def pending_questions(db_uri: str, doc_id: str, q_fp: str, fp: str) -> list[dict[str, Any]]:
    """Current questions of ``doc_id`` with no sample under answers fingerprint ``fp``."""
    done = store.read(db_uri, "samples", where=f"doc_id = '{doc_id}' AND fingerprint = '{fp}'")
    done_ids = set(done["question_id"].to_list())
    return [q for q in current_questions(db_uri, doc_id, q_fp) if q["question_id"] not in done_ids]


def locate_citations(quotes: list[str], text: str) -> list[dict[str, Any]]:
    """Character spans of each quote in the chunk text (whitespace-insensitive); -1 if absent."""
    flat = re.sub(r"\s+", " ", text)
    spans = []
    for quote in quotes:
        q = re.sub(r"\s+", " ", quote).strip().strip("\"'“”")
        start = flat.find(q) if q else -1
        spans.append({"quote": quote, "start": start, "end": start + len(q) if start >= 0 else -1})
    return spans


def sample_row(question: dict, chunk: dict, result: LLMResult, fp: str, model: str) -> dict:
    """One ``samples`` row from a validated answer."""
    value = result.value or {}
    cot = (result.reasoning or value.get("reasoning") or "").strip()
    return {
        "sample_id": child_id(question["question_id"], fp, 0),
        "question_id": question["question_id"], "chunk_id": chunk["chunk_id"],
        "doc_id": chunk["doc_id"], "source": chunk["source"], "page": chunk["page_start"],
        "question": question["question"], "answer": value["answer"].strip(), "cot": cot,
        "citations": json.dumps(verify_citations(value.get("citations", []), chunk["text"],
                                                 chunk["page_start"])[0], ensure_ascii=False),
        "qtype": question["qtype"], "difficulty": question["difficulty"],
        "model": model, "fingerprint": fp,
    }


def generate_answers(ctx: LLMContext, doc_id: str, q_settings: QuestionSettings) -> dict:
    """Answer every pending question of ``doc_id``; failures go to the ledger."""
    fp = answers_fingerprint(ctx)
    questions = pending_questions(ctx.db_uri, doc_id, questions_fingerprint(ctx, q_settings), fp)
    chunks = {c["chunk_id"]: c for c in store.read(
        ctx.db_uri, "chunks", where=f"doc_id = '{doc_id}'").to_dicts()}
    lang = {c["chunk_id"]: c["lang"] for c in chunks.values()}
    jobs = [
        LLMJob(item_id=q["question_id"], schema=Answer, messages=render(
            "answers", text=chunks[q["chunk_id"]]["text"], question=q["question"],
            heading_path=chunks[q["chunk_id"]]["heading_path"],
            language_name=language_name(lang[q["chunk_id"]])))
        for q in questions
    ]
    results = run_jobs(ctx, "answer", "answers", fp, jobs, {q["question_id"]: doc_id for q in questions})
    by_id, model = {q["question_id"]: q for q in questions}, resolve_endpoint(ctx, "answer").model
    rows = [sample_row(by_id[r.item_id], chunks[by_id[r.item_id]["chunk_id"]], r, fp, model)
            for r in results if r.ok]
    store.upsert(ctx.db_uri, "samples", rows)  # successes are kept even when others failed
    return stage_stats("answers", results, doc_id=doc_id, samples=len(rows))


def _cache_key(_context: Any, params: dict[str, Any]) -> str:
    ctx, doc_id = params["ctx"], params["doc_id"]
    q_fp = questions_fingerprint(ctx, params["q_settings"])
    ids = [q["question_id"] for q in current_questions(ctx.db_uri, doc_id, q_fp)]
    return batch_cache_key("answers", ctx.db_uri, doc_id, answers_fingerprint(ctx), ids)


answers_task = task(
    generate_answers, name="answers", retries=1, retry_delay_seconds=10,
    cache_key_fn=_cache_key, persist_result=True,
)
