"""questions stage: ``chunks`` -> ``questions``, exactly N questions per chunk.

N comes from the chunk's length (``QuestionSettings``): exact, never "at least". Each question
carries a type (factual, conceptual, reasoning, how-to, scenario) and a difficulty.
"""

from __future__ import annotations

from typing import Any, Literal

from prefect import task
from pydantic import BaseModel, Field, create_model

from sftforge import store
from sftforge.ids import child_id, fingerprint, sha256_text
from sftforge.llm.gateway import LLMJob
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
from tasks.select_chunks import skipped_chunk_ids

QType = Literal["factual", "conceptual", "reasoning", "how-to", "scenario"]
Difficulty = Literal["easy", "medium", "hard"]


class QuestionItem(BaseModel):
    """One generated question."""

    question: str = Field(min_length=8, max_length=300)
    qtype: QType
    difficulty: Difficulty


def questions_per_chunk(n_tokens: int, settings: QuestionSettings) -> int:
    """Exact number of questions for a chunk of ``n_tokens`` tokens."""
    n = round(n_tokens / max(1, settings.tokens_per_question))
    return max(settings.min_per_chunk, min(settings.max_per_chunk, n))


def question_schema(n: int) -> type[BaseModel]:
    """Answer schema holding exactly ``n`` questions (the list length is enforced both ways)."""
    return create_model(
        f"Questions{n}",
        questions=(list[QuestionItem], Field(min_length=n, max_length=n)),
    )


def questions_fingerprint(ctx: LLMContext, settings: QuestionSettings) -> str:
    """Fingerprint of everything that changes the questions: prompt, model, sampling, counts."""
    ep = resolve_endpoint(ctx, "question")
    return fingerprint(
        "questions", prompt=prompt_sha("questions"), model=ep.model,
        temperature=ep.temperature, max_tokens=ep.max_tokens, **settings.model_dump(),
    )


def pending_chunks(db_uri: str, doc_id: str, fp: str) -> list[dict[str, Any]]:
    """Chunks of ``doc_id`` (current chunking) that have no questions under fingerprint ``fp``."""
    doc = doc_id.replace("'", "")
    chunks = store.read(db_uri, "chunks", where=f"doc_id = '{doc}'")
    done = store.read(db_uri, "questions", where=f"doc_id = '{doc}' AND fingerprint = '{fp}'")
    done_ids = set(done["chunk_id"].to_list())
    # TEMPORARY until the flow runs select_chunks: skip chunks it marked as not substantive.
    done_ids |= skipped_chunk_ids(db_uri, [doc_id])
    return [c for c in chunks.sort("idx").to_dicts() if c["chunk_id"] not in done_ids]


def question_job(chunk: dict[str, Any], n: int, lang: str | None) -> LLMJob:
    """The LLM request for one chunk."""
    messages = render(
        "questions", text=chunk["text"], heading_path=chunk["heading_path"], n=n,
        language_name=language_name(lang or chunk.get("lang")),
    )
    return LLMJob(item_id=chunk["chunk_id"], messages=messages, schema=question_schema(n))


def question_rows(chunk: dict[str, Any], value: dict[str, Any], fp: str) -> list[dict[str, Any]]:
    """``questions`` rows from one validated answer; duplicate questions within a chunk dropped."""
    rows, seen = [], set()
    for idx, item in enumerate(value["questions"]):
        key = sha256_text(item["question"].strip().lower())
        if key in seen:
            continue
        seen.add(key)
        rows.append({
            "question_id": child_id(chunk["chunk_id"], fp, idx), "chunk_id": chunk["chunk_id"],
            "doc_id": chunk["doc_id"], "idx": idx, "question": item["question"].strip(),
            "qtype": item["qtype"], "difficulty": item["difficulty"], "fingerprint": fp,
        })
    return rows


def generate_questions(ctx: LLMContext, doc_id: str, settings: QuestionSettings) -> dict:
    """Write questions for every pending chunk of ``doc_id``; failures go to the ledger."""
    fp = questions_fingerprint(ctx, settings)
    chunks = pending_chunks(ctx.db_uri, doc_id, fp)
    jobs = [question_job(c, questions_per_chunk(c["n_tokens"], settings), c["lang"]) for c in chunks]
    results = run_jobs(ctx, "question", "questions", fp, jobs, {c["chunk_id"]: doc_id for c in chunks})
    by_id = {c["chunk_id"]: c for c in chunks}
    rows = [row for r in results if r.ok for row in question_rows(by_id[r.item_id], r.value, fp)]
    store.upsert(ctx.db_uri, "questions", rows)  # successes are kept even when others failed
    return stage_stats("questions", results, doc_id=doc_id, questions=len(rows))


def _cache_key(_context: Any, params: dict[str, Any]) -> str:
    ctx, doc_id = params["ctx"], params["doc_id"]
    chunks = store.read(ctx.db_uri, "chunks", where=f"doc_id = '{doc_id}'", columns=["chunk_id"])
    fp = questions_fingerprint(ctx, params["settings"])
    return batch_cache_key("questions", ctx.db_uri, doc_id, fp, chunks["chunk_id"].to_list())


questions_task = task(
    generate_questions, name="questions", retries=1, retry_delay_seconds=10,
    cache_key_fn=_cache_key, persist_result=True,
)
