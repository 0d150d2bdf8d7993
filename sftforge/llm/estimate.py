"""Dry-run estimate: the LLM calls a build would make, their tokens and cost, sending nothing.

Per LLM stage, in build order:

- ``pending``: items whose input exists and that lack output under the stage's current
  fingerprint (the stage's own ``pending(ctx)``), each rendered into its exact request body, so
  their prompt tokens are estimated from the real text (``sftforge.text.estimate_tokens``);
- ``predicted``: items the LLM stage it reads from (its ``upstream``) will create first in this
  build (that stage's pending items x
  the rows each makes: ``count(row)`` when the stage declares one, e.g. questions per chunk,
  else 1). Exact for answers (one per question); for the judge an upper bound, since the clean
  stage may drop some new samples. Their prompt tokens are the mean of the stage's pending
  ones, else of the upstream stage's (the source passage dominates every prompt).

Completion tokens per call are the mean this data home's request log recorded for the stage
and model, else the endpoint's ``max_tokens`` (an upper bound). Retries and re-asks are not
predicted: each item counts as one request.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

from sftforge.llm.cache import DB_NAME, RequestCache
from sftforge.llm.costs import cost_usd, price_of
from sftforge.llm.gateway import LLMGateway
from sftforge.settings import ModelPrice, ResolvedEndpoint
from sftforge.stage import BuildContext, LLMStage, Stage
from sftforge.text import estimate_tokens


def observed_completion(cache_dir: Path, stage: str, model: str) -> float | None:
    """Mean completion tokens of successful HTTP requests of ``stage`` with ``model`` (any run)."""
    path = Path(cache_dir) / DB_NAME
    if not path.exists():
        return None
    RequestCache(Path(cache_dir))  # adds the model column to older logs
    with closing(sqlite3.connect(path, timeout=60)) as conn:
        row = conn.execute(
            "SELECT AVG(completion_tokens) FROM requests WHERE kind = 'http' AND status = 200"
            " AND stage = ? AND model = ? AND completion_tokens > 0", (stage, model)).fetchone()
    return float(row[0]) if row and row[0] is not None else None


def prompt_tokens(stage: LLMStage, ctx: BuildContext, rows: list[dict[str, Any]]) -> list[int]:
    """Estimated prompt tokens of each row's exact request body (schema instruction included)."""
    spec = ctx.endpoints[stage.role]
    gateway = LLMGateway(ResolvedEndpoint(**spec.model_dump()), Path(ctx.home) / "llm_cache")
    out = []
    for row in rows:
        body = gateway.build_request(stage.job(row))
        out.append(estimate_tokens("\n".join(str(m["content"]) for m in body["messages"])))
    return out


def _mean(values: list[int]) -> float:
    return sum(values) / len(values) if values else 0.0


def estimate_stage(stage: LLMStage, ctx: BuildContext, predicted_in: int, upstream_prompt: float,
                   prices: dict[str, ModelPrice]) -> dict[str, Any]:
    """One stage's estimate (see the module docstring); ``predicted_in``: items an earlier
    stage of this build will create; ``upstream_prompt``: that stage's mean prompt tokens."""
    spec = ctx.endpoints[stage.role]
    pending = stage.pending(ctx)
    prompts = prompt_tokens(stage, ctx, pending)
    mean_prompt = _mean(prompts) or upstream_prompt
    observed = observed_completion(Path(ctx.home) / "llm_cache", stage.name, spec.model)
    per_call = observed if observed is not None else float(spec.max_tokens)
    each = stage.calls([{}])  # requests per item (the verifier asks several checks)
    calls = (len(pending) + predicted_in) * each
    prompt_total = int(round((sum(prompts) + predicted_in * mean_prompt) * each))
    completion_total = int(round(calls * per_call))
    count = getattr(stage, "count", None)
    makes = sum(count(r) for r in pending) if callable(count) else len(pending)
    price = price_of(prices, spec.model)
    return {
        "stage": stage.name, "role": stage.role, "model": spec.model, "pending": len(pending),
        "predicted": predicted_in, "requests": calls, "prompt_tokens": prompt_total,
        "completion_tokens": completion_total,
        "completion_basis": "observed mean" if observed is not None else "max_tokens",
        "cost_usd": round(cost_usd(price, prompt_total, completion_total), 6)
        if price is not None else None,
        "rows_out": makes + predicted_in, "mean_prompt_tokens": mean_prompt,
    }


def estimate_build(ctx: BuildContext, stages: list[Stage],
                   prices: dict[str, ModelPrice]) -> dict[str, Any]:
    """Estimate of every LLM stage in ``stages`` (in order) and the totals."""
    rows: list[dict[str, Any]] = []
    made: dict[str, dict[str, Any]] = {}  # stage name -> its estimate, for the stages it feeds
    for stage in stages:
        if not isinstance(stage, LLMStage):
            continue
        feed = made.get(stage.upstream or "", {})
        est = estimate_stage(stage, ctx, feed.get("rows_out", 0),
                             feed.get("mean_prompt_tokens", 0.0), prices)
        rows.append(est)
        made[stage.name] = est
    priced = [r["cost_usd"] for r in rows if r["cost_usd"] is not None]
    return {
        "stages": rows, "requests": sum(r["requests"] for r in rows),
        "prompt_tokens": sum(r["prompt_tokens"] for r in rows),
        "completion_tokens": sum(r["completion_tokens"] for r in rows),
        "cost_usd": round(sum(priced), 6) if priced else None,
        "unpriced_models": sorted({r["model"] for r in rows if r["cost_usd"] is None}),
        "documents": len(ctx.doc_ids),
    }
