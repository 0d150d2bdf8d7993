"""The dry run of a build: what it would ask the LLMs and what that would cost, sending nothing.

Ingest, chunk and chunk selection run for real (the estimate needs the chunks; they cost no
LLM call and the next build reuses them), then the curation stages before the first LLM one
(candidates, clean: they seed this run's ``selection`` so the judge's pending items are
known). Every LLM stage is only asked ``pending(ctx)`` (``sftforge.llm.estimate``).
"""

from __future__ import annotations

import uuid

from prefect import flow
from prefect.runtime import flow_run

from flows.build_dataset import BuildParams, ingest, plan_build, resolve
from sftforge.llm.endpoints import LLMRuntime
from sftforge.llm.estimate import estimate_build
from sftforge.settings import Settings
from sftforge.stage import LLMStage, Stage, run_stage


def before_llm(stages: list[Stage]) -> list[Stage]:
    """The stages of a subflow that precede its first LLM stage (none when it has none)."""
    first = next((n for n, s in enumerate(stages) if isinstance(s, LLMStage)), 0)
    return stages[:first]


@flow(name="dry_run", log_prints=True)
def dry_run(params: BuildParams) -> dict:
    """Estimate of the LLM work of a build of ``params.input_path`` (no request is sent)."""
    params, settings = resolve(params), Settings()
    run_id = str(flow_run.get_id() or uuid.uuid4())
    runtime = LLMRuntime(settings, run_id)  # never started: only the endpoints' names are used
    try:
        ctx, stages = plan_build(params, settings, run_id, runtime.endpoints())
        ctx, _done = ingest(ctx, stages["ingest"])
        for stage in before_llm(stages["curate"]):
            run_stage(stage, ctx)
        llm = [s for s in (*stages["generate"], *stages["curate"]) if isinstance(s, LLMStage)]
        estimate = estimate_build(ctx, llm, settings.prices)
    finally:
        runtime.close()
    return {**estimate, "budget_usd": settings.budget_usd, "ran": [
        s.name for s in (*stages["ingest"], *before_llm(stages["curate"]))]}
