"""The main flow: a folder of documents -> a versioned, trainer-ready release.

    ingest:   ingest -> chunk -> select_chunks
    generate: questions -> answers (or qa_pairs: one request per chunk, see tasks/qa_pairs.py)
    curate:   candidates -> clean -> judge -> thresholds -> dedup
    publish:  split -> release -> export -> card

Each subflow runs a list of stages (``sftforge.stage``); every stage works only on what is
pending under its fingerprint, so a rebuild pays only for what changed. This file only wires.
"""

from __future__ import annotations

import uuid
from pathlib import Path

from prefect import flow
from prefect.runtime import flow_run

from flows.params import BuildParams, resolve
from sftforge.llm.endpoints import LLMRuntime
from sftforge.release.report import BuildReport
from sftforge.settings import EndpointSpec, Settings
from sftforge.stage import BuildContext, Stage, StageStats, plan, run_stage
from tasks.answers import AnswersStage
from tasks.candidates import CandidatesStage
from tasks.card import card_task, release_task
from tasks.chunk import ChunkStage
from tasks.clean import CleanStage
from tasks.dedup import DedupStage
from tasks.export import export_task
from tasks.ingest import IngestStage, supported
from tasks.judge import JudgeStage, ThresholdsStage
from tasks.judge_chunks import ChunkJudgeStage
from tasks.qa_pairs import generation_stages, resolve_mode
from tasks.questions import QuestionsStage
from tasks.select_chunks import ChunkSelectStage
from tasks.split import SplitStage

__all__ = ["BuildParams", "build_dataset"]


def discover(input_path: str) -> list[str]:
    """Every supported document under ``input_path`` (or the file itself), sorted."""
    root = Path(input_path).expanduser()
    if root.is_file():
        return [str(root)]
    if not root.is_dir():
        raise FileNotFoundError(f"{root} does not exist: pass a document or a folder of documents")
    return sorted(str(p) for p in root.rglob("*") if p.is_file() and supported(p))


def stages_of(params: BuildParams, paths: list[str]) -> dict[str, list[Stage]]:
    """The stages of each subflow, configured from the build parameters."""
    curate = [CandidatesStage(), CleanStage(settings=params.clean)]
    per_chunk = resolve_mode(params.generation, Settings().uses_embedded_llm) == "per_chunk"
    if params.judge_enabled:
        curate += [ChunkJudgeStage() if per_chunk else JudgeStage(),
                   ThresholdsStage(settings=params.judge)]
    return {
        "ingest": [IngestStage(paths=paths), ChunkStage(settings=params.chunk),
                   *([ChunkSelectStage(settings=params.select)] if params.select.enabled else [])],
        "generate": generation_stages(params.generation, params.questions,
                                      Settings().uses_embedded_llm),
        "curate": [*curate, DedupStage(settings=params.dedup)],
        "publish": [SplitStage(settings=params.split)],
    }


def plan_build(params: BuildParams, settings: Settings, run_id: str,
               endpoints: dict[str, EndpointSpec]) -> tuple[BuildContext, dict[str, list[Stage]]]:
    """The build's context (every stage's fingerprint computed once) and its stages."""
    ctx = BuildContext(db_uri=settings.db_uri, home=str(settings.home), run_id=run_id,
                       endpoints=endpoints, error_budget=settings.error_budget)
    stages = stages_of(params, discover(params.input_path))
    return plan(ctx, [s for group in stages.values() for s in group]), stages


def run_stages(ctx: BuildContext, stages: list[Stage]) -> list[StageStats]:
    """Run stages in order on the same build context."""
    return [run_stage(stage, ctx) for stage in stages]


@flow(name="ingest")
def ingest(ctx: BuildContext, stages: list[Stage]) -> tuple[BuildContext, list[StageStats]]:
    """Files -> documents -> chunks -> the chunks worth questions; broken files are
    quarantined, never fatal. Returns the context scoped to the documents that parsed."""
    files = run_stage(stages[0], ctx)
    ctx = ctx.model_copy(update={"doc_ids": files.extra["doc_ids"]})
    return ctx, [files, *run_stages(ctx, stages[1:])]


@flow(name="generate")
def generate(ctx: BuildContext, stages: list[Stage]) -> list[StageStats]:
    """Chunks -> questions -> answers (LLM stages; the embedded model starts only if needed)."""
    return run_stages(ctx, stages)


@flow(name="curate")
def curate(ctx: BuildContext, stages: list[Stage]) -> list[StageStats]:
    """This build's samples -> the selection: clean, judge, thresholds, dedup."""
    return run_stages(ctx, stages)


@flow(name="publish")
def publish(ctx: BuildContext, stages: list[Stage], params: BuildParams,
            report: BuildReport) -> dict:
    """Selection -> splits -> release folder (trainer files, samples, summary, card)."""
    report.record(run_stages(ctx, stages))
    release = release_task(ctx, params.out_dir, params.export)
    exported = export_task(release["release_dir"], release["samples_path"], params.export)
    return card_task(ctx, release, exported, report)


@flow(name="build_dataset", log_prints=True)
def build_dataset(params: BuildParams) -> dict:
    """Build a release from ``params.input_path``; returns the release summary."""
    params, settings = resolve(params), Settings()
    run_id = str(flow_run.get_id() or uuid.uuid4())
    runtime = LLMRuntime(settings, run_id)
    ctx, stages = plan_build(params, settings, run_id, runtime.endpoints())
    report = BuildReport(run_id=run_id, db_uri=ctx.db_uri, params=params.model_dump(mode="json"))
    try:
        ctx, done = ingest(ctx, stages["ingest"])
        report.record(done)
        report.quarantined = report.stages["ingest"].extra["quarantined"]
        report.record(generate(ctx, stages["generate"]))
        report.record(curate(ctx, stages["curate"]))
    finally:
        runtime.close()
    return publish(ctx, stages["publish"], params, report)
