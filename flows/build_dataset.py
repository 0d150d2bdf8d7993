"""The main flow: a folder of documents -> a versioned, trainer-ready release.

    ingest:   ingest -> chunk -> select_chunks
    generate: domain_tree -> ga_pairs -> questions -> tag_nodes -> answers
              (per-chunk mode: domain_tree -> qa_pairs -> tag_nodes, one request per chunk)
    curate:   candidates -> clean -> grounding -> verify -> verify_select (embedded model) |
              judge -> thresholds (other endpoints; `scoring` picks) -> dedup -> review
              -> balance -> dialogues -> rejected -> judge_rejected -> pairs (DPO)
    publish:  split -> release -> export -> card -> gate -> publish

Each subflow runs a list of stages (``sftforge.stage``); every stage works only on what is
pending under its fingerprint, so a rebuild pays only for what changed. This file only wires.
"""

from __future__ import annotations

import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from prefect import flow
from prefect.runtime import flow_run
from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

from flows.params import BuildParams, resolve
from sftforge.llm.endpoints import LLMRuntime
from sftforge.llm.limits import check_strict
from sftforge.monitoring import publish_artifacts
from sftforge.release.report import BuildReport
from sftforge.discovery import discover_files
from sftforge.folders import check_output, secure_home
from sftforge.release.staging import EmptyRelease
from sftforge.watch import check_inbox
from sftforge.scaleout import scaled
from sftforge.settings import EndpointSpec, Settings, config_sources, describe_endpoints
from sftforge.stage import LLM_TAG, BuildContext, Stage, StageStats, plan, run_stage
from tasks.answers import AnswersStage
from tasks.candidates import CandidatesStage
from tasks.card import card_task, publish_task, refuse_empty, release_task
from tasks.chunk import ChunkStage
from tasks.clean import CleanStage
from tasks.dedup import DedupStage
from tasks.dialogues import DialoguesStage
from tasks.export import export_task
from tasks.gate import gate_task
from tasks.grounding import GroundingStage
from tasks.ingest import IngestStage, supported
from tasks.judge import JudgeStage, ThresholdsStage
from tasks.preferences import preference_stages
from tasks.judge_chunks import ChunkJudgeStage
from tasks.qa_pairs import QAPairsStage, resolve_mode
from tasks.questions import QuestionsStage
from tasks.review import ReviewStage
from tasks.select_chunks import ChunkSelectStage
from tasks.split import SplitStage
from tasks.balance import BalanceStage
from tasks.domain_tree import DomainTreeStage
from tasks.ga_pairs import GAPairsStage
from tasks.tag_nodes import TagNodesStage
from tasks.verify import VerifySelectStage, VerifyStage
from tasks.verify_self_check import verify_self_check_task

__all__ = ["BuildParams", "build_dataset"]


def discover(input_path: str, exclude: tuple[str, ...] = (), settle_s: float = 0.0) -> list[str]:
    """Every supported document under ``input_path`` (or the file itself), sorted; symlinks out
    of it, dot-folders, ``exclude`` (output folder, data home) and files still being written are
    passed over with a logged reason (``sftforge.discovery``)."""
    root = Path(input_path).expanduser()
    if root.is_file():
        return [str(root)]
    if not root.is_dir():
        raise FileNotFoundError(f"{root} does not exist: pass a document or a folder of documents")
    files, _ = discover_files(root, supported, [Path(p) for p in exclude], settle_s)
    return [str(p) for p in files]


def scorers(params: BuildParams, judge_embedded: bool) -> tuple[str, ...]:
    """The LLM checks of a build: ``verifier`` and/or ``judge`` (none when switched off)."""
    if not params.judge_enabled:
        return ()
    mode = params.scoring
    if mode == "auto":  # a 1.5B model's 1-10 scores miss what its yes/no probabilities see
        mode = "verifier" if judge_embedded else "judge"
    return ("verifier", "judge") if mode == "both" else (mode,)


def stages_of(params: BuildParams, paths: list[str], embedded: bool,
              judge_embedded: bool | None = None) -> dict[str, list[Stage]]:
    """The stages of each subflow, configured from the build parameters (``embedded``: the
    question role runs on the embedded CPU model; ``judge_embedded``: the judge role does,
    default the same)."""
    per_chunk = resolve_mode(params.generation, embedded) == "per_chunk"
    checks = scorers(params, embedded if judge_embedded is None else judge_embedded)
    curate = [CandidatesStage(), CleanStage(settings=params.clean),
              GroundingStage(settings=params.grounding)]
    if "verifier" in checks:  # cheap checks first: the judge only sees what they kept
        curate += [VerifyStage(settings=params.verify), VerifySelectStage(settings=params.verify)]
    if "judge" in checks:
        judge = ChunkJudgeStage if per_chunk else JudgeStage
        curate += [judge(settings=params.judge), ThresholdsStage(settings=params.judge)]
    generate = [QAPairsStage(settings=params.questions, plan=params.plan)] if per_chunk else [
        GAPairsStage(settings=params.ga), QuestionsStage(settings=params.questions, plan=params.plan)]
    return {
        "ingest": [IngestStage(paths=paths, quarantine_hidden_instructions=(
                       params.quarantine_hidden_instructions), ocr=params.ocr,
                       limits=params.limits), ChunkStage(settings=params.chunk),
                   *([ChunkSelectStage(settings=params.select)] if params.select.enabled else [])],
        "generate": [DomainTreeStage(settings=params.domain_tree), *generate,
                     TagNodesStage(settings=params.tags),
                     *([] if per_chunk else [AnswersStage(**params.answers.model_dump())])],
        "curate": [*curate, DedupStage(settings=params.dedup), ReviewStage(),
                   *([BalanceStage(settings=params.balance)] if params.balance.enabled else []),
                   DialoguesStage(settings=params.dialogues),
                   *(preference_stages(params.preferences) if "judge" in checks else [])],
        "publish": [SplitStage(settings=params.split)],
    }


def plan_build(params: BuildParams, settings: Settings, run_id: str,
               endpoints: dict[str, EndpointSpec]) -> tuple[BuildContext, dict[str, list[Stage]]]:
    """The build's context (every stage's fingerprint computed once) and its stages."""
    ctx = BuildContext(db_uri=settings.db_uri, home=str(settings.home), run_id=run_id,
                       endpoints=endpoints, error_budget=settings.error_budget)
    check_output(Path(params.out_dir))  # before any LLM request, not after them
    secure_home(settings.home)
    if params.from_inbox:
        check_inbox(params.input_path, settings.inbox_root)
    paths = discover(params.input_path, (params.out_dir, str(settings.home)), params.settle_s)
    if not paths:
        raise EmptyRelease.no_files(params.input_path)
    stages = stages_of(params, paths, endpoints["question"].embedded,
                       endpoints["judge"].embedded)
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
    """This build's samples -> the selection: clean, grounding, judge, thresholds, dedup,
    review."""
    return run_stages(ctx, stages)


@flow(name="publish")
def publish(ctx: BuildContext, stages: list[Stage], params: BuildParams,
            report: BuildReport) -> dict:
    """Selection -> splits -> a staged release folder (trainer files, samples, summary, card),
    renamed into place and made ``LATEST`` only when it holds samples and the gate finds no
    PII, secret or injection pattern in it."""
    report.record(run_stages(ctx, stages))
    release = release_task(ctx, params.out_dir, params.export)
    exported = export_task(release["release_dir"], release["samples_path"], params.export)
    refuse_empty(ctx, release, exported)
    summary = card_task(ctx, release, exported, report)
    return publish_task(summary, gate_task(release["release_dir"], params.gate))


@contextmanager
def subflow_heartbeats_off() -> Iterator[None]:
    """Subflows started inside send no heartbeats of their own: they run in the build's process,
    whose flow run keeps sending them (what Prefect's zombie-run detection watches), and each
    subflow's heartbeat thread costs up to a second at its exit (Prefect joins its 1 s sleep),
    which was most of an incremental build's fixed cost."""
    with temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        yield


@flow(name="build_dataset", log_prints=True)
def build_dataset(params: BuildParams) -> dict:
    """Build a release from ``params.input_path``; returns the release summary."""
    params, settings = resolve(params), Settings()
    run_id = str(flow_run.get_id() or uuid.uuid4())
    runtime = LLMRuntime(settings, run_id)
    try:
        endpoints = runtime.endpoints()
        # Before the first request: where the requests (and the key) go, and why.
        print(f"{describe_endpoints(endpoints)} (settings from {', '.join(config_sources())})")
        if settings.llm_limits_strict:
            check_strict(endpoints, f"tag:{LLM_TAG}")
        ctx, stages = plan_build(params, settings, run_id, endpoints)
    except BaseException:
        runtime.close()
        raise
    report = BuildReport(run_id=run_id, db_uri=ctx.db_uri, params=params.model_dump(mode="json"))
    with subflow_heartbeats_off():
        try:
            ctx, done = scaled(ingest, settings.dask)(ctx, stages["ingest"])
            report.record(done)
            report.quarantined = report.stages["ingest"].extra["quarantined"]
            if not ctx.doc_ids:
                raise EmptyRelease.all_quarantined(report.quarantined)
            report.record(generate(ctx, stages["generate"]))
            report.record(curate(ctx, stages["curate"]))
            if "verify" in ctx.fingerprints:  # planted pairs, while the model is still up
                report.record([verify_self_check_task(ctx, params.verify)])
        finally:
            runtime.close()
        summary = publish(ctx, stages["publish"], params, report)
    publish_artifacts(summary)  # stage table, card, release link: in the run's Artifacts tab
    return summary
