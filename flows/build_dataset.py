"""The main flow: a folder of documents -> a versioned, trainer-ready release.

ingest -> chunk -> questions -> answers -> clean -> judge -> thresholds -> dedup -> split ->
export -> card. The flow only wires tasks; each stage's logic lives in ``tasks/``.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any, Callable

from prefect import flow, get_run_logger
from prefect.runtime import flow_run
from pydantic import BaseModel, Field

from sftforge import store
from sftforge.jsonl import write_jsonl
from sftforge.llm.gateway import run_usage
from sftforge.llm.endpoints import EmbeddedEndpoint, LLMContext
from sftforge.release.report import BuildReport
from sftforge.settings import ChunkSettings, QuestionSettings, Settings
from tasks.answers import answers_fingerprint, answers_task, pending_questions
from tasks.card import card_task, release_task
from tasks.chunk import chunk_task
from tasks.clean import CleanSettings, clean_task
from tasks.dedup import DedupSettings, dedup_task
from tasks.export import ExportSettings, export_task
from tasks.ingest import ingest_task, supported
from tasks.judge import (
    JudgeSettings,
    apply_thresholds,
    judge_fingerprint,
    judge_task,
    latest_scores,
)
from tasks.questions import pending_chunks, questions_fingerprint, questions_task
from tasks.split import SplitSettings, split_task


class BuildParams(BaseModel):
    """Parameters of one build (a form in the Prefect UI). Endpoints and keys come from settings."""

    input_path: str = Field(description="A document or a folder of documents")
    out_dir: str = Field("sftforge-out", description="Where releases/<version>/ is written")
    chunk: ChunkSettings = Field(default_factory=ChunkSettings)
    questions: QuestionSettings = Field(default_factory=QuestionSettings)
    clean: CleanSettings = Field(default_factory=CleanSettings)
    judge: JudgeSettings = Field(default_factory=JudgeSettings)
    judge_enabled: bool = True
    dedup: DedupSettings = Field(default_factory=DedupSettings)
    split: SplitSettings = Field(default_factory=SplitSettings)
    export: ExportSettings = Field(default_factory=ExportSettings)


def discover(input_path: str) -> list[Path]:
    """Every supported document under ``input_path`` (or the file itself), sorted."""
    root = Path(input_path).expanduser()
    if root.is_file():
        return [root]
    if not root.is_dir():
        raise FileNotFoundError(f"{root} does not exist: pass a document or a folder of documents")
    return sorted(p for p in root.rglob("*") if p.is_file() and supported(p))


def run_checked(stage_task: Any, present: Callable[[Any], bool], *args: Any) -> Any:
    """Run a task; a cached result whose rows are missing from LanceDB is recomputed.

    Prefect's result cache and the database can drift apart (a wiped table, a copied home);
    the database is the truth, so a cache hit is trusted only if its output is there.
    """
    state = stage_task(*args, return_state=True)
    if state.name == "Cached" and not present(state.result()):
        state = stage_task.with_options(refresh_cache=True)(*args, return_state=True)
    return state


def ingest_and_chunk(files: list[Path], db_uri: str, chunking: ChunkSettings, report: BuildReport) -> list[str]:
    """Ingest each file (a broken one is quarantined, never fatal) and chunk the good ones."""
    doc_ids: list[str] = []
    for path in files:
        state = run_checked(ingest_task, lambda d: store.count(
            db_uri, "documents", f"doc_id = '{d['doc_id']}'") > 0, str(path), db_uri)
        if state.is_failed():  # a crash inside the parser must not stop the build either
            report.quarantine(str(path), "", f"ingest crashed: {state.message}; please report it")
            continue
        doc = state.result()
        if doc["status"] != "ok":
            report.quarantine(doc["path"], doc["doc_id"], doc["reason"])
        elif doc["doc_id"] not in doc_ids:
            doc_ids.append(doc["doc_id"])
    for doc_id in doc_ids:
        state = run_checked(chunk_task, lambda r: store.count(db_uri, "chunks", store.sql_in(
            "chunk_id", r["chunk_ids"])) == len(r["chunk_ids"]), doc_id, db_uri, chunking)
        report.add("chunks", state.result()["chunks"])
    report.add("documents", len(doc_ids))
    return doc_ids


Batch = tuple[str, Any, tuple, Callable[[Any], bool]]


def run_batches(name: str, batches: list[Batch], report: BuildReport) -> None:
    """Run LLM batches (id, task, args, output-present check); failures are logged and counted."""
    for batch_id, stage_task, args, present in batches:
        state = run_checked(stage_task, present, *args)
        if state.is_failed():
            get_run_logger().warning("%s batch %s: %s", name, batch_id, state.message)
            report.failed_batch(name, batch_id, str(state.message))


def generate(doc_ids: list[str], params: BuildParams, llm: EmbeddedEndpoint, run_id: str,
             report: BuildReport) -> None:
    """questions then answers for every document, starting the LLM only if there is work."""
    ctx = llm.context(run_id)
    q_fp = questions_fingerprint(ctx, params.questions)
    todo = [d for d in doc_ids if pending_chunks(ctx.db_uri, d, q_fp)]
    if todo:
        ctx = llm.ensure_started(run_id)
        run_batches("questions", [(d, questions_task, (ctx, d, params.questions),
                                   lambda _r, d=d: not pending_chunks(ctx.db_uri, d, q_fp))
                                  for d in todo], report)
    a_fp = answers_fingerprint(ctx)
    todo = [d for d in doc_ids if pending_questions(ctx.db_uri, d, q_fp, a_fp)]
    if todo:
        ctx = llm.ensure_started(run_id)
        run_batches("answers", [(d, answers_task, (ctx, d, params.questions),
                                 lambda _r, d=d: not pending_questions(ctx.db_uri, d, q_fp, a_fp))
                                for d in todo], report)
    budget = llm.settings.error_budget
    chunk_ids = store.read(ctx.db_uri, "chunks", columns=["chunk_id", "doc_id"])
    report.check_error_budget("questions", ids_of(chunk_ids, "chunk_id", doc_ids), q_fp, budget)
    questions = store.read(ctx.db_uri, "questions", where=f"fingerprint = '{q_fp}'",
                           columns=["question_id", "doc_id"])
    report.check_error_budget("answers", ids_of(questions, "question_id", doc_ids), a_fp, budget)
    report.add("questions", questions.filter(questions["doc_id"].is_in(doc_ids)).height)


def ids_of(frame: Any, column: str, doc_ids: list[str]) -> list[str]:
    """Values of ``column`` for rows of the given documents."""
    return frame.filter(frame["doc_id"].is_in(doc_ids))[column].to_list()


def current_sample_ids(ctx: LLMContext, doc_ids: list[str]) -> dict[str, list[str]]:
    """doc_id -> ids of its samples made by the current answers fingerprint."""
    frame = store.read(ctx.db_uri, "samples", columns=["sample_id", "doc_id", "fingerprint"],
                       where=f"fingerprint = '{answers_fingerprint(ctx)}'")
    frame = frame.filter(frame["doc_id"].is_in(doc_ids)).sort("sample_id")
    return {d: frame.filter(frame["doc_id"] == d)["sample_id"].to_list() for d in doc_ids}


def judge_all(by_doc: dict[str, list[str]], llm: EmbeddedEndpoint, run_id: str,
              report: BuildReport) -> None:
    """Judge each document's cleaned samples (only those without a current judgement)."""
    ctx = llm.context(run_id)
    scores = latest_scores(ctx, [s for ids in by_doc.values() for s in ids])
    todo = {d: ids for d, ids in by_doc.items() if any(s not in scores for s in ids)}
    if not todo:
        return
    ctx = llm.ensure_started(run_id)

    def judged(ids: list[str]) -> bool:
        return set(ids) <= set(latest_scores(ctx, ids))

    run_batches("judge", [(d, judge_task, (ctx, d, ids), lambda _r, ids=ids: judged(ids))
                          for d, ids in todo.items()], report)
    report.check_error_budget("judge", [s for ids in by_doc.values() for s in ids],
                              judge_fingerprint(ctx), llm.settings.error_budget)


def curate(doc_ids: list[str], params: BuildParams, llm: EmbeddedEndpoint, run_id: str,
           report: BuildReport) -> list[str]:
    """clean -> judge -> thresholds -> dedup; returns the ids of the samples to export."""
    ctx = llm.context(run_id)
    by_doc = current_sample_ids(ctx, doc_ids)
    all_ids = [s for ids in by_doc.values() for s in ids]
    report.add("samples", len(all_ids))
    report.stage("clean", run_checked(clean_task, lambda _r: store.count(
        ctx.db_uri, "clean_samples", store.sql_in("sample_id", all_ids)) == len(all_ids),
        ctx.db_uri, all_ids, params.clean).result())
    kept = report.kept_after_clean(ctx.db_uri, all_ids)
    scores: dict[str, dict] = {}
    if params.judge_enabled:
        judge_all({d: [s for s in ids if s in kept] for d, ids in by_doc.items()}, llm, run_id, report)
        scores = latest_scores(llm.context(run_id), sorted(kept))
        kept = report.apply_thresholds(kept, scores, params.judge, apply_thresholds)
    overall = {s: scores[s]["overall"] for s in kept if s in scores}
    report.stage("dedup", run_checked(dedup_task, lambda _r: store.count(
        ctx.db_uri, "dedup_clusters", store.sql_in("sample_id", sorted(kept))) == len(kept),
        ctx.db_uri, sorted(kept), params.dedup, overall).result())
    return report.kept_after_dedup(ctx.db_uri, sorted(kept))


@flow(name="build_dataset", log_prints=True)
def build_dataset(params: BuildParams) -> dict:
    """Build a release from ``params.input_path``; returns the release summary."""
    settings = Settings()
    run_id = str(flow_run.get_id() or uuid.uuid4())
    report = BuildReport(run_id=run_id, db_uri=settings.db_uri, params=params.model_dump(mode="json"))
    doc_ids = ingest_and_chunk(discover(params.input_path), settings.db_uri, params.chunk, report)
    llm = EmbeddedEndpoint(settings)
    try:
        generate(doc_ids, params, llm, run_id, report)
        selected = curate(doc_ids, params, llm, run_id, report)
    finally:
        llm.close()
    ctx = llm.context(run_id)
    work = Path(ctx.home) / "runs" / run_id
    work.mkdir(parents=True, exist_ok=True)
    rows_path = work / "split_rows.jsonl"
    write_jsonl(rows_path, report.split_rows(ctx.db_uri, selected))
    report.stage("split", split_task(ctx.db_uri, str(rows_path), params.split))
    judge_fp = judge_fingerprint(ctx) if params.judge_enabled else None
    release = release_task(params.out_dir, str(work), selected, params.export, ctx.db_uri, judge_fp)
    exported = export_task(release["release_dir"], release["samples_path"], params.export)
    report.usage = run_usage(Path(ctx.home) / "llm_cache", run_id)
    return card_task(release, exported, report)
