"""What every LLM stage shares: building the gateway, running jobs, keeping the failure ledger.

Tasks receive an :class:`LLMContext` (plain strings, hashable, no secrets); the API key is read
from the environment/settings inside the task so it never becomes a Prefect parameter.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel

from sftforge import progress
from sftforge.llm.failures import clear_failures, failure_category, record_failures
from sftforge.ids import sha256_text
from sftforge.llm.gateway import LLMGateway, LLMJob, LLMResult
from sftforge.settings import ResolvedEndpoint, Settings

EMBEDDED_TIMEOUT_S = 900.0
LANGUAGE_NAMES = {"zh": "Simplified Chinese (简体中文)", "en": "English"}


class LLMContext(BaseModel):
    """Where a stage reads/writes and which endpoint it talks to (no secrets)."""

    db_uri: str
    home: str
    embedded_url: str | None = None
    embedded_model: str | None = None
    run_id: str = ""


def language_name(lang: str | None) -> str:
    """Human name of a document language for prompts (``en`` when unknown)."""
    return LANGUAGE_NAMES.get(lang or "en", "the language of the passage")


def resolve_endpoint(ctx: LLMContext, role: str) -> ResolvedEndpoint:
    """The endpoint for ``role``: configured settings, else the embedded local model."""
    endpoint = Settings().endpoint(role, embedded_url=ctx.embedded_url)
    if ctx.embedded_url and endpoint.base_url == ctx.embedded_url and ctx.embedded_model:
        # llama_cpp.server answers one request at a time: more in flight would only queue and
        # eat into the client timeout, and CPU generation of a long answer takes minutes.
        endpoint = endpoint.model_copy(update={
            "model": ctx.embedded_model, "concurrency": 1,
            "timeout_s": max(endpoint.timeout_s, EMBEDDED_TIMEOUT_S)})
    return endpoint


def run_jobs(
    ctx: LLMContext,
    role: str,
    stage: str,
    fingerprint: str,
    jobs: list[LLMJob],
    doc_ids: dict[str, str],
) -> list[LLMResult]:
    """Run ``jobs`` through the gateway with a progress bar; ledger failures, clear successes.

    Input: jobs keyed by item id; ``doc_ids`` maps item id -> doc_id for the ledger.
    Output: results in job order; failed items are in the ``failures`` table.
    """
    if not jobs:
        return []
    gateway = LLMGateway(
        resolve_endpoint(ctx, role), Path(ctx.home) / "llm_cache", run_id=ctx.run_id, stage=stage
    )
    with progress.track(f"{stage} ({len(jobs)} LLM calls)", len(jobs)) as advance:
        results = gateway.run(jobs, on_result=lambda _r: advance(1))
    record_failures(ctx.db_uri, stage, fingerprint, [r for r in results if not r.ok], doc_ids)
    clear_failures(ctx.db_uri, stage, [r.item_id for r in results if r.ok])
    return results


class BatchFailed(RuntimeError):
    """Some items of a batch failed; they are in the failure ledger.

    Raising keeps Prefect from caching a partial batch and lets it retry the pending items.
    """


def stage_stats(stage: str, results: list[LLMResult], **extra: object) -> dict:
    """Small stats dict a stage task returns; raises :class:`BatchFailed` if any item failed."""
    failed = [r for r in results if not r.ok]
    if failed:
        reasons: dict[str, int] = {}
        for r in failed:
            key = failure_category(r.error or "unknown")
            reasons[key] = reasons.get(key, 0) + 1
        where = f" of {extra['doc_id']}" if "doc_id" in extra else ""
        raise BatchFailed(
            f"{stage}: {len(failed)} of {len(results)} items{where} failed ({reasons}); "
            "they are in the failures table (`sftforge status`) and are retried on the next build"
        )
    return {"stage": stage, "tried": len(results), "ok": len(results), "failed": 0, **extra}


def batch_cache_key(stage: str, db_uri: str, batch_id: str, fp: str, input_ids: list[str]) -> str:
    """Prefect cache key of a batch: its input ids (content hashes) + the stage fingerprint.

    Never the run id, so a nightly run reuses every completed batch.
    """
    return sha256_text(f"{stage}|{db_uri}|{batch_id}|{fp}|{','.join(sorted(input_ids))}")


# Stands in for the embedded model's URL until it is started: fingerprints and cache keys need
# the model name, never the URL, so a build with nothing to generate never loads the model.
EMBEDDED_NOT_STARTED = "http://127.0.0.1:0/v1"


class EmbeddedEndpoint:
    """Starts the embedded local model the first time a stage has LLM work, stops it on close."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.needed = settings.uses_embedded_llm
        self._server = None

    def context(self, run_id: str) -> LLMContext:
        """The stage context; points at the embedded model only if it is in use."""
        ctx = LLMContext(db_uri=self.settings.db_uri, home=str(self.settings.home), run_id=run_id)
        if not self.needed:
            return ctx
        from sftforge.llm.local import MODEL_ALIAS

        url = self._server.base_url if self._server else EMBEDDED_NOT_STARTED
        return ctx.model_copy(update={"embedded_url": url, "embedded_model": MODEL_ALIAS})

    def ensure_started(self, run_id: str) -> LLMContext:
        """Start the embedded model if it is in use and not running yet; return the context."""
        if self.needed and self._server is None:
            from sftforge.llm.local import LocalLLM

            threads = self.settings.local_llm_threads or os.cpu_count() or 1
            self._server = LocalLLM(self.settings.home, threads=threads,
                                    models_dir=self.settings.models_dir)
            self._server.start()
        return self.context(run_id)

    def close(self) -> None:
        """Stop the embedded model if this build started it."""
        if self._server is not None:
            self._server.stop()
            self._server = None
