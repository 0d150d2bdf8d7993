"""The stage contract: what every stage of a build declares, and how a build runs it.

A :class:`Stage` declares the tables it reads and the one it writes, its settings (pydantic
fields), its fingerprint, ``pending(ctx)`` (what lacks output under the current fingerprint:
the only definition of "done", used by the runner and the task alike) and ``run(ctx, items)``;
a curation stage also has ``select(ctx)``, which re-applies its verdicts to this build's
candidates every build (stored scores, thresholds: no recomputation). Both return one
:class:`StageStats`. An LLM stage (:class:`LLMStage`) only declares role, prompt, schema,
``format_input(row)`` and ``format_output(value, row)``; the shared machinery here runs the jobs
through the gateway, writes rows, keeps the failure ledger and checks the error budget.

Tasks get a :class:`BuildContext` (URIs, ids, endpoint specs without keys, fingerprints), never
clients or connections; the result cache is LanceDB itself (``pending``) plus the request cache,
so Prefect's own result caching is off for stage tasks.
"""

from __future__ import annotations

import time
from contextlib import nullcontext
from pathlib import Path
from typing import Any, ClassVar

from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.context import FlowRunContext
from pydantic import BaseModel, Field

from sftforge import progress, selection, store
from sftforge.ids import fingerprint
from sftforge.llm.costs import Budget, BudgetExceeded
from sftforge.llm.endpoints import LLMRuntime, api_key
from sftforge.llm.failures import clear_failures, failure_category, record_failures
from sftforge.llm.gateway import LLMGateway, LLMJob, LLMResult
from sftforge.llm.prompting import prompt_sha, render
from sftforge.settings import EndpointSpec, ResolvedEndpoint, Settings

__all__ = ["BudgetExceeded", "BuildContext", "CurationStage", "ErrorBudgetExceeded", "LLMStage",
           "Stage", "StageStats", "plan", "run_stage"]


class ErrorBudgetExceeded(RuntimeError):
    """More LLM items failed than the configured error budget allows."""


class BuildContext(BaseModel):
    """What every stage of one build needs: plain values only, never a secret."""

    db_uri: str
    home: str
    run_id: str
    doc_ids: list[str] = Field(default_factory=list)  # the documents this build covers
    endpoints: dict[str, EndpointSpec] = Field(default_factory=dict)  # role -> endpoint
    fingerprints: dict[str, str] = Field(default_factory=dict)  # stage name -> fingerprint
    error_budget: float = 0.25

    def fp(self, stage: str) -> str:
        """The current fingerprint of ``stage`` in this build."""
        return self.fingerprints[stage]


class StageStats(BaseModel):
    """The one record every stage returns."""

    stage: str
    items_in: int = 0
    kept: int = 0
    dropped: dict[str, int] = Field(default_factory=dict)
    failed: int = 0
    llm_requests: int = 0
    cache_hits: int = 0
    seconds: float = 0.0
    extra: dict[str, Any] = Field(default_factory=dict)

    def plus(self, other: "StageStats") -> "StageStats":
        """Both records added up (a stage's run and select, or its batches)."""
        dropped = dict(self.dropped)
        for reason, n in other.dropped.items():
            dropped[reason] = dropped.get(reason, 0) + n
        return StageStats(
            stage=self.stage, items_in=self.items_in + other.items_in, kept=self.kept + other.kept,
            dropped=dropped, failed=self.failed + other.failed,
            llm_requests=self.llm_requests + other.llm_requests,
            cache_hits=self.cache_hits + other.cache_hits,
            seconds=round(self.seconds + other.seconds, 3), extra={**self.extra, **other.extra})


class Stage(BaseModel):
    """One step of the build. Subclasses set the class variables and override the methods."""

    name: ClassVar[str]
    reads: ClassVar[tuple[str, ...]] = ()
    writes: ClassVar[str] = ""
    uses_llm: ClassVar[bool] = False
    selects: ClassVar[bool] = False  # has a select() that re-applies verdicts every build
    batch_size: ClassVar[int] = 0  # items per task run; 0 = one task run for all
    retry_failed: ClassVar[int] = 0  # extra passes over items that failed in this build
    # Its batches may run at once in other processes (CPU-bound, no shared state but LanceDB).
    parallel_safe: ClassVar[bool] = False
    # Names of stages this one stands in for (their fingerprint is this stage's), so readers of
    # e.g. ``ctx.fp("answers")`` work unchanged when one stage replaces two.
    provides: ClassVar[tuple[str, ...]] = ()

    def fingerprint(self, ctx: BuildContext) -> str:
        """Hash of everything that changes this stage's output (settings + code version)."""
        return fingerprint(self.name, **self.model_dump(mode="json"))

    def pending(self, ctx: BuildContext) -> list[dict[str, Any]]:
        """Items without output under the current fingerprint."""
        return []

    def run(self, ctx: BuildContext, items: list[dict[str, Any]]) -> StageStats:
        """Do the work for ``items``; returns the stage's stats."""
        return StageStats(stage=self.name)

    def select(self, ctx: BuildContext) -> StageStats:
        """Re-apply stored verdicts to this build's candidates (``selection`` table)."""
        return StageStats(stage=self.name)

    def check(self, ctx: BuildContext, stats: StageStats) -> None:
        """Raise when the build must stop after this stage (e.g. the error budget)."""

    def label(self, items: list[dict[str, Any]]) -> str:
        """What a task run works on, for its name in the Prefect UI."""
        docs = {i.get("doc_id") for i in items if i.get("doc_id")}
        return f"{len(items)} items" + (f" of {len(docs)} documents" if docs else "")


def _timed(fn: Any, *args: Any) -> StageStats:
    start = time.perf_counter()
    stats: StageStats = fn(*args)
    return stats.model_copy(update={"seconds": round(time.perf_counter() - start, 3)})


@task(name="stage", retries=1, retry_delay_seconds=5, cache_policy=NO_CACHE)
def stage_task(stage: Stage, ctx: BuildContext, items: list[dict[str, Any]]) -> StageStats:
    """Run ``stage`` on ``items`` (one Prefect task run, named after the work)."""
    return _timed(stage.run, ctx, items)


@task(name="select", retries=1, retry_delay_seconds=5, cache_policy=NO_CACHE)
def select_task(stage: Stage, ctx: BuildContext) -> StageStats:
    """Re-apply ``stage``'s verdicts to this build's candidates."""
    return _timed(stage.select, ctx)


def _batches(stage: Stage, items: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    size = stage.batch_size or len(items) or 1
    return [items[i:i + size] for i in range(0, len(items), size)]


def run_stage(stage: Stage, ctx: BuildContext) -> StageStats:
    """Run one stage for a build: its pending work (if any), then its selection and checks."""
    items = stage.pending(ctx)
    stats = StageStats(stage=stage.name)
    if items and stage.uses_llm:
        ctx = with_llm_started(ctx)
    for attempt in range(1 + stage.retry_failed):
        if attempt and (not stats.failed or not (items := stage.pending(ctx))):
            break  # nothing failed, or the failures are done after all
        for result in _run_batches(stage, ctx, items, attempt):
            stats = _retried(stats, result) if attempt else stats.plus(result)
    if stage.selects:
        named = select_task.with_options(name=stage.name, task_run_name=f"{stage.name}: select")
        stats = _selected(stats, named(stage, ctx))
    stage.check(ctx, stats)
    return stats


# Task runners that run each task in a worker process: only there may PyMuPDF work in parallel.
PROCESS_RUNNERS = frozenset({"DaskTaskRunner", "RayTaskRunner", "ProcessPoolTaskRunner"})


def on_processes() -> bool:
    """True when the current flow run's task runner runs tasks in other processes."""
    run = FlowRunContext.get()
    return run is not None and type(run.task_runner).__name__ in PROCESS_RUNNERS


# Tag of LLM stage task runs: a global concurrency limit "tag:sftforge-llm" (infra/bootstrap.py)
# caps how many run at once across all builds sharing the endpoints; no limit = no effect.
LLM_TAG = "sftforge-llm"


def _tags(stage: Stage) -> set[str]:
    return {LLM_TAG} if stage.uses_llm else set()


def _run_batches(stage: Stage, ctx: BuildContext, items: list[dict[str, Any]],
                 attempt: int) -> list[StageStats]:
    """One task run per batch, in batch order: all submitted at once when the stage is
    parallel-safe and the flow runs tasks in processes (Dask), else one after another here."""
    parallel = stage.parallel_safe and on_processes()
    batches = _batches(stage, items)
    runs: list[Any] = []
    with _batch_progress(stage, len(batches)) as advance:
        for batch in batches:
            named = stage_task.with_options(
                name=stage.name, task_run_name=f"{stage.name}: {stage.label(batch)}"
                + (f" (retry {attempt})" if attempt else ""), tags=_tags(stage))
            if parallel:
                runs.append(named.submit(stage, ctx, batch))
                continue
            runs.append(named(stage, ctx, batch))
            advance(1)
        if not parallel:
            return runs
        done = []
        for run in runs:  # .result() raises when a task run failed: the stage fails, as in-process
            done.append(run.result())
            advance(1)
        return done


def _batch_progress(stage: Stage, batches: int) -> Any:
    """Progress over a stage's task runs when there are several (LLM stages count their calls
    instead, inside ``run``)."""
    if batches < 2 or stage.uses_llm:
        return nullcontext(lambda n=1: None)
    return progress.track(f"{stage.name} ({batches} task runs)", batches)


def _retried(first: StageStats, retry: StageStats) -> StageStats:
    """Counts after a retry pass over the failed items: they are not new items."""
    return first.plus(retry).model_copy(update={
        "items_in": first.items_in, "failed": retry.failed, "dropped": retry.dropped})


def _selected(work: StageStats, chosen: StageStats) -> StageStats:
    """A curation stage's record: counts of its selection, costs of its work."""
    return chosen.model_copy(update={
        "failed": work.failed, "llm_requests": work.llm_requests, "cache_hits": work.cache_hits,
        "seconds": round(work.seconds + chosen.seconds, 3),
        "dropped": {**work.dropped, **chosen.dropped},
        "extra": {**work.extra, **chosen.extra, "computed": work.items_in}})


def with_llm_started(ctx: BuildContext) -> BuildContext:
    """``ctx`` with the embedded model running if the build uses it (no-op otherwise)."""
    runtime = LLMRuntime.of(ctx.run_id)
    if runtime is None:
        return ctx
    return ctx.model_copy(update={"endpoints": runtime.ensure_started()})


def plan(ctx: BuildContext, stages: list[Stage]) -> BuildContext:
    """``ctx`` with the fingerprint of every stage, computed once for the whole build."""
    fps = dict(ctx.fingerprints)
    for stage in stages:
        fps[stage.name] = stage.fingerprint(ctx.model_copy(update={"fingerprints": fps}))
        fps.update(dict.fromkeys(stage.provides, fps[stage.name]))
    return ctx.model_copy(update={"fingerprints": fps})


# ---------------------------------------------------------------- LLM stages


class LLMStage(Stage):
    """A stage that asks an LLM once per input row: declared, not re-implemented.

    Subclasses set ``role``, ``prompt`` (``sftforge/llm/prompts/<prompt>.*.j2``), ``schema``
    (or override ``schema_for``), ``key`` (the input id column), and implement ``inputs``,
    ``done``, ``format_input`` and ``format_output``. The rows ``format_output`` sees carry
    ``output_fingerprint`` (the stage's current fingerprint, for the ids of what it makes) and
    ``output_model`` (the model that answered).
    """

    uses_llm: ClassVar[bool] = True
    # One more pass over failed items: a truncated or malformed reply often succeeds when
    # asked again, and failures are never cached. What still fails goes to the next build.
    retry_failed: ClassVar[int] = 1
    role: ClassVar[str]
    prompt: ClassVar[str]
    schema: ClassVar[type[BaseModel]]
    key: ClassVar[str]
    temperature: ClassVar[float | None] = None  # None = the endpoint's
    # Fields that choose which items run, not what an output is: left out of the fingerprint.
    operational: ClassVar[frozenset[str]] = frozenset()
    # The LLM stage whose new output becomes this stage's input in the same build (for the
    # dry run's estimate); None when the input exists before any LLM call.
    upstream: ClassVar[str | None] = None

    def fingerprint(self, ctx: BuildContext) -> str:
        """Prompt, model, sampling and settings: what changes an LLM stage's output."""
        ep = ctx.endpoints[self.role]
        return fingerprint(self.name, prompt=prompt_sha(self.prompt), model=ep.model,
                           temperature=ep.temperature if self.temperature is None
                           else self.temperature,
                           max_tokens=ep.max_tokens,
                           **self.model_dump(mode="json", exclude=set(self.operational)))

    def inputs(self, ctx: BuildContext) -> list[dict[str, Any]]:
        """Every input row of this build's documents (done or not)."""
        raise NotImplementedError

    def done(self, ctx: BuildContext, rows: list[dict[str, Any]]) -> set[str]:
        """Ids (``key``) of ``rows`` that already have output under the current fingerprint."""
        raise NotImplementedError

    def schema_for(self, row: dict[str, Any]) -> type[BaseModel] | None:
        """The output schema for one row (default: ``schema``; None = free text, the value is
        ``{"text": reply}``)."""
        return self.schema

    def format_input(self, row: dict[str, Any]) -> list[dict[str, str]]:
        """Chat messages for one row (default: the prompt rendered with the row)."""
        return render(self.prompt, **row)

    def format_output(self, value: dict[str, Any], row: dict[str, Any],
                      reasoning: str = "") -> list[dict[str, Any]]:
        """Rows of the output table from one validated reply."""
        raise NotImplementedError

    def pending(self, ctx: BuildContext) -> list[dict[str, Any]]:
        rows = self.inputs(ctx)
        done = self.done(ctx, rows)
        return [r for r in rows if r[self.key] not in done]

    def job(self, row: dict[str, Any]) -> LLMJob:
        """The gateway job of one row."""
        return LLMJob(item_id=row[self.key], messages=self.format_input(row),
                      schema=self.schema_for(row), temperature=self.temperature)

    def calls(self, items: list[dict[str, Any]]) -> int:
        """LLM calls ``items`` take (one each by default)."""
        return len(items)

    def ask(self, gateway: LLMGateway, items: list[dict[str, Any]],
            advance: Any) -> list[LLMResult]:
        """One result per item, in item order (default: one job per item); ``advance(1)``
        after each item."""
        return gateway.run([self.job(r) for r in items], on_result=lambda _r: advance(1))

    def run(self, ctx: BuildContext, items: list[dict[str, Any]]) -> StageStats:
        """Ask the LLM for every item; write the rows; ledger failures, clear successes."""
        gateway = self.gateway(ctx)
        with progress.track(f"{self.name} ({self.calls(items)} LLM calls)", len(items)) as advance:
            results = self.ask(gateway, items, advance)
        # format_output builds ids from the fingerprint and records the model: rows carry both.
        fp, model = ctx.fp(self.name), ctx.endpoints[self.role].model
        by_id = {r[self.key]: {**r, "output_fingerprint": fp, "output_model": model}
                 for r in items}
        rows = [out for r in results if r.ok
                for out in self.format_output(r.value or {}, by_id[r.item_id], r.reasoning)]
        self.write(ctx, rows)  # successes are kept even when others failed
        failed = [r for r in results if not r.ok]
        # Items the budget stopped were never asked: not failures, pending for the next build.
        unsent = [r for r in failed if (r.error or "").startswith("budget exhausted")]
        failed = [r for r in failed if r not in unsent]
        docs = {r[self.key]: r.get("doc_id", "") for r in items}
        record_failures(ctx.db_uri, self.name, fp, failed, docs)
        clear_failures(ctx.db_uri, self.name, [r.item_id for r in results if r.ok])
        return StageStats(
            stage=self.name, items_in=len(items), kept=len(rows), failed=len(failed),
            dropped=_failure_reasons(failed), llm_requests=gateway.usage["requests_sent"],
            cache_hits=gateway.usage["cache_hits"],
            extra={"budget_exhausted": unsent[0].error, "unsent": len(unsent)} if unsent else {})

    def write(self, ctx: BuildContext, rows: list[dict[str, Any]]) -> None:
        """Store the rows ``format_output`` made (default: upsert into ``writes``)."""
        store.upsert(ctx.db_uri, self.writes, rows)

    def gateway(self, ctx: BuildContext) -> LLMGateway:
        """The gateway for this stage's role (the key is read here, inside the task)."""
        spec, settings = ctx.endpoints[self.role], Settings()
        endpoint = ResolvedEndpoint(**spec.model_dump(), api_key=api_key(self.role))
        cache_dir = Path(ctx.home) / "llm_cache"
        budget = Budget.for_run(settings.budget_usd, settings.prices, spec.model, cache_dir,
                                ctx.run_id) if settings.budget_usd is not None else None
        return LLMGateway(endpoint, cache_dir, run_id=ctx.run_id, stage=self.name, budget=budget)

    def check(self, ctx: BuildContext, stats: StageStats) -> None:
        """Stop the build at the budget cap, or when this stage's ledger failures exceed the
        error budget."""
        if stats.extra.get("budget_exhausted"):
            raise BudgetExceeded(
                f"{self.name}: {stats.extra['budget_exhausted']} ({stats.extra['unsent']} "
                f"items not sent, {stats.kept} rows written by this stage in this build)")
        items = [r[self.key] for r in self.inputs(ctx)]
        if not items:
            return
        ledger = store.read(ctx.db_uri, "failures", where=(
            f"stage = '{self.name}' AND fingerprint = '{ctx.fp(self.name)}'"))
        failed = ledger.filter(ledger["item_id"].is_in(items))
        reasons = _failure_reasons_of(failed["error"].to_list())
        rate = failed.height / len(items)
        stats.extra["failure_rate"] = {"items": len(items), "failed": failed.height,
                                       "rate": round(rate, 4), "reasons": reasons}
        if rate > ctx.error_budget:
            raise ErrorBudgetExceeded(
                f"{self.name}: {failed.height} of {len(items)} items failed ({rate:.0%} > error "
                f"budget {ctx.error_budget:.0%}); reasons: {reasons}. The failed items are in the "
                "failures table (`sftforge status`); fix the endpoint or raise "
                "SFTFORGE_ERROR_BUDGET, then build again: finished items are not paid for twice.")


def _failure_reasons(failed: list[LLMResult]) -> dict[str, int]:
    return _failure_reasons_of([r.error or "unknown" for r in failed])


def _failure_reasons_of(errors: list[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for error in errors:
        key = f"llm_failed: {failure_category(error)}"
        out[key] = out.get(key, 0) + 1
    return out


# ---------------------------------------------------------------- curation stages


class CurationStage(Stage):
    """A stage over this build's candidate samples (the ``selection`` table) that drops some."""

    selects: ClassVar[bool] = True

    def candidates(self, ctx: BuildContext) -> list[str]:
        """Ids of the samples still kept in this build, sorted."""
        return selection.kept(ctx.db_uri, ctx.run_id)

    def verdicts(self, ctx: BuildContext, sample_ids: list[str]) -> dict[str, str]:
        """sample_id -> drop reason for the candidates this stage drops (from stored data)."""
        return {}

    def select(self, ctx: BuildContext) -> StageStats:
        ids = self.candidates(ctx)
        drops = self.verdicts(ctx, ids) if ids else {}
        selection.drop(ctx.db_uri, ctx.run_id, self.name, drops)
        dropped: dict[str, int] = {}
        for reason in drops.values():
            dropped[reason] = dropped.get(reason, 0) + 1
        return StageStats(stage=self.name, kept=len(ids) - len(drops), dropped=dropped,
                          extra={"candidates": len(ids)})
