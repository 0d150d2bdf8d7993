"""judge stage: ``clean_samples`` (+ source ``chunks``) -> ``judgements``; thresholds apart.

Scores (1-10: clarity, faithfulness to the source chunk, relevance, completeness) are stored once
per (sample text, judge fingerprint). :func:`apply_thresholds` runs separately, so changing a
threshold re-runs no LLM call. Document text is data: a pattern scan plus the judge's own flag
mark samples whose text tries to steer the judge (``injection_suspected``).
"""

from __future__ import annotations

import re
from typing import Any

from prefect import task
from pydantic import BaseModel, Field

from sftforge import store
from sftforge.ids import child_id, fingerprint, sha256_text
from sftforge.llm.gateway import LLMJob
from sftforge.llm.endpoints import (
    LLMContext,
    batch_cache_key,
    resolve_endpoint,
    run_jobs,
    stage_stats,
)
from sftforge.llm.prompting import prompt_sha, render

DIMENSIONS = ("clarity", "faithfulness", "relevance", "completeness")

# Text addressed to a model/reviewer inside data: one detector for ingest, clean, judge, gate.
from sftforge.cleaning.injection import INJECTION  # noqa: E402


class JudgeSettings(BaseModel):
    """Thresholds applied to stored scores; none of them is part of the judge fingerprint."""

    min_overall: float = 6.0
    min_faithfulness: int = 5
    drop_injection: bool = True


class Verdict(BaseModel):
    """The judge's scores for one sample."""

    clarity: int = Field(ge=1, le=10)
    faithfulness: int = Field(ge=1, le=10)
    relevance: int = Field(ge=1, le=10)
    completeness: int = Field(ge=1, le=10)
    reason: str = Field(max_length=400)
    injection: bool = False


def judge_fingerprint(ctx: LLMContext) -> str:
    """Fingerprint of the judge: prompt, model, sampling (thresholds excluded on purpose)."""
    ep = resolve_endpoint(ctx, "judge")
    return fingerprint("judge", prompt=prompt_sha("judge"), model=ep.model,
                       temperature=ep.temperature, max_tokens=ep.max_tokens)


def judgement_id(sample: dict[str, Any], fp: str) -> str:
    """Id of the judgement of this exact sample text under judge fingerprint ``fp``."""
    text_sha = sha256_text(f"{sample['question']}\n{sample['answer']}")[:12]
    return child_id(sample["sample_id"], fp, text_sha)


from sftforge.cleaning.injection import suspected_injection  # noqa: E402


def judge_inputs(db_uri: str, sample_ids: list[str]) -> list[dict[str, Any]]:
    """Cleaned kept samples joined with their source chunk text."""
    clean = store.read(db_uri, "clean_samples", where=store.sql_in("sample_id", sample_ids))
    clean = clean.filter(clean["kept"])
    links = store.read(db_uri, "samples", where=store.sql_in("sample_id", sample_ids),
                       columns=["sample_id", "chunk_id", "doc_id"])
    chunk_ids = links["chunk_id"].unique().to_list()
    chunks = store.read(db_uri, "chunks", where=store.sql_in("chunk_id", chunk_ids),
                        columns=["chunk_id", "text"])
    frame = clean.join(links, on="sample_id").join(chunks, on="chunk_id")
    return frame.sort("sample_id").to_dicts()


def judgement_row(sample: dict, value: dict, fp: str, model: str) -> dict[str, Any]:
    """One ``judgements`` row; ``overall`` is the mean of the four dimensions."""
    scores = {d: int(value[d]) for d in DIMENSIONS}
    flagged = bool(value.get("injection")) or suspected_injection(
        sample["text"], sample["question"], sample["answer"])
    return {
        "judgement_id": judgement_id(sample, fp), "sample_id": sample["sample_id"], **scores,
        "overall": round(sum(scores.values()) / len(scores), 2), "reason": value["reason"],
        "injection_suspected": flagged, "model": model, "fingerprint": fp,
    }


def judge_samples(ctx: LLMContext, batch_id: str, sample_ids: list[str]) -> dict:
    """Judge every sample of the batch that has no judgement for its current text."""
    fp = judge_fingerprint(ctx)
    samples = judge_inputs(ctx.db_uri, sample_ids)
    have = store.read(ctx.db_uri, "judgements", where=store.sql_in("sample_id", sample_ids),
                      columns=["judgement_id"])
    done = set(have["judgement_id"].to_list())
    todo = [s for s in samples if judgement_id(s, fp) not in done]
    jobs = [LLMJob(item_id=s["sample_id"], schema=Verdict, temperature=0.0, messages=render(
        "judge", text=s["text"], question=s["question"], answer=s["answer"])) for s in todo]
    results = run_jobs(ctx, "judge", "judge", fp, jobs, {s["sample_id"]: s["doc_id"] for s in todo})
    by_id, model = {s["sample_id"]: s for s in todo}, resolve_endpoint(ctx, "judge").model
    rows = [judgement_row(by_id[r.item_id], r.value, fp, model) for r in results if r.ok]
    store.upsert(ctx.db_uri, "judgements", rows)
    return stage_stats("judge", results, batch_id=batch_id, judged=len(rows))


def latest_scores(ctx: LLMContext, sample_ids: list[str]) -> dict[str, dict]:
    """The current judge's judgement per sample id (sample_id -> row)."""
    fp = judge_fingerprint(ctx)
    rows = store.read(ctx.db_uri, "judgements",
                      where=f"fingerprint = '{fp}' AND " + store.sql_in("sample_id", sample_ids))
    return {r["sample_id"]: r for r in rows.to_dicts()}


def apply_thresholds(judgement: dict[str, Any] | None, settings: JudgeSettings) -> tuple[bool, str]:
    """Keep or drop one sample by its stored scores: ``(True, "")`` or ``(False, reason)``."""
    if judgement is None:
        return False, "judge_failed"
    if settings.drop_injection and judgement["injection_suspected"]:
        return False, "prompt_injection_suspected"
    if judgement["faithfulness"] < settings.min_faithfulness:
        return False, "low_faithfulness"
    if judgement["overall"] < settings.min_overall:
        return False, "low_overall_score"
    return True, ""


def _cache_key(_context: Any, params: dict[str, Any]) -> str:
    # Keyed on the judgement ids, which hash the cleaned text: a cleaning change re-judges.
    ctx, fp = params["ctx"], judge_fingerprint(params["ctx"])
    ids = [judgement_id(s, fp) for s in judge_inputs(ctx.db_uri, params["sample_ids"])]
    return batch_cache_key("judge", ctx.db_uri, params["batch_id"], fp, ids)


judge_task = task(
    judge_samples, name="judge", retries=1, retry_delay_seconds=10,
    cache_key_fn=_cache_key, persist_result=True,
)
