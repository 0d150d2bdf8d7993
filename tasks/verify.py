"""verify stage: ``clean_samples`` (+ source ``chunks``) -> ``verifications``; thresholds apart.

Per kept sample, the verifier's yes/no checks (``sftforge.verifier``: supported by the source,
answers the question, question self-contained), each stored as P(yes): from the first token's
log-probabilities, or 1/0 from a one-word reply where the endpoint returns none. One row per
(cleaned sample text, verifier fingerprint). The thresholds stage (:class:`VerifySelectStage`)
applies ``VerifySettings`` to the stored probabilities in ``select``: changing a threshold
re-runs no request, and each drop names its check (``unsupported``, ``does_not_answer``,
``not_self_contained``, ``verify_failed``) in ``selection``.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any, ClassVar

from pydantic import BaseModel, Field

from sftforge import selection, store
from sftforge.ids import fingerprint, sha256_text
from sftforge.llm.gateway import LLMGateway, LLMJob, LLMResult
from sftforge.llm.prompting import prompt_sha
from sftforge.sample_pairs import pair_inputs
from sftforge.stage import BuildContext, CurationStage, LLMStage
from sftforge.verifier.checks import CHECKS
from sftforge.verifier.run import check_jobs, run_checks
from sftforge.verifier.settings import VerifySettings, settings_dump, verdicts
from sftforge.verifier.store import CHECK_COLUMNS, checks_for, pair_langs, verification_id


class VerifyStage(LLMStage):
    """Kept ``clean_samples`` + ``chunks`` -> ``verifications`` (verification_id, sample_id,
    one P(yes) column per check, method, model, fingerprint)."""

    upstream: ClassVar[str | None] = "answers"
    name: ClassVar[str] = "verify"
    reads: ClassVar[tuple[str, ...]] = ("clean_samples", "samples", "chunks", "selection")
    writes: ClassVar[str] = "verifications"
    role: ClassVar[str] = "judge"
    prompt: ClassVar[str] = "verify"
    schema: ClassVar[type[BaseModel]] = BaseModel  # unused: yes/no jobs have no schema
    key: ClassVar[str] = "sample_id"
    temperature: ClassVar[float | None] = 0.0
    operational: ClassVar[frozenset[str]] = frozenset({"settings"})
    settings: VerifySettings = Field(default_factory=VerifySettings)

    def fingerprint(self, ctx: BuildContext) -> str:
        """Prompt, check wording, model and the checks asked (thresholds are applied later)."""
        wording = sha256_text(json.dumps(CHECKS, ensure_ascii=False, sort_keys=True))[:16]
        return fingerprint(self.name, prompt=prompt_sha(self.prompt), wording=wording,
                           model=ctx.endpoints[self.role].model, **settings_dump(self.settings))

    def inputs(self, ctx: BuildContext) -> list[dict[str, Any]]:
        """This build's kept samples with their passage (sorted by chunk)."""
        return pair_inputs(ctx.db_uri, selection.kept(ctx.db_uri, ctx.run_id))

    def done(self, ctx: BuildContext, rows: list[dict[str, Any]]) -> set[str]:
        fp = ctx.fp(self.name)
        ids = {verification_id(r, fp): r["sample_id"] for r in rows}
        have = store.read(ctx.db_uri, "verifications", columns=["verification_id"],
                          where=store.sql_in("verification_id", list(ids)))
        return {ids[v] for v in have["verification_id"].to_list()}

    def format_input(self, row: dict[str, Any]) -> list[dict[str, str]]:
        """The first check's messages (each check's differ only in the last line)."""
        return self.job(row).messages

    def job(self, row: dict[str, Any]) -> LLMJob:
        """The first check's request (what the dry run estimates; ``ask`` sends them all)."""
        return check_jobs({**row, "source": row["text"]}, self.settings.checks[:1],
                          row["sample_id"])[0]

    def calls(self, items: list[dict[str, Any]]) -> int:
        return len(items) * len(self.settings.checks)

    def ask(self, gateway: LLMGateway, items: list[dict[str, Any]],
            advance: Any) -> list[LLMResult]:
        """One result per sample: its checks asked back to back; the value is
        ``{check: P(yes), method}``, or the first failed check's error."""
        rows = [{**r, "source": r["text"]} for r in items]
        ids = [r["sample_id"] for r in items]
        out = run_checks(gateway, rows, self.settings.checks, ids, on_row=lambda: advance(1))
        return [_one_result(sid, verdict, results)
                for sid, (verdict, results) in zip(ids, out)]

    def format_output(self, value: dict[str, Any], row: dict[str, Any],
                      reasoning: str = "") -> list[dict[str, Any]]:
        """One ``verifications`` row (checks not asked are null)."""
        fp = row["output_fingerprint"]
        return [{"verification_id": verification_id(row, fp), "sample_id": row["sample_id"],
                 **{c: value.get(c) for c in CHECK_COLUMNS}, "method": value["method"],
                 "model": row["output_model"], "fingerprint": fp}]


def _one_result(sample_id: str, verdict: dict[str, Any], results: list[LLMResult]) -> LLMResult:
    """The results of one sample's checks as one: the verdict, or the failed check's error
    (its raw reply kept for the failure ledger), with attempts and tokens summed."""
    tokens = (sum(r.prompt_tokens for r in results), sum(r.completion_tokens for r in results))
    attempts, cached = sum(r.attempts for r in results), all(r.cached for r in results)
    if "error" in verdict:
        failed = next(r for r in results if not r.ok)
        return replace(failed, item_id=sample_id, error=verdict["error"], attempts=attempts,
                       prompt_tokens=tokens[0], completion_tokens=tokens[1])
    return LLMResult(sample_id, verdict, "", "", None, attempts, cached, *tokens)


class VerifySelectStage(CurationStage):
    """Stored ``verifications`` -> ``selection``: drops candidates under a check's threshold,
    with the check's reason (no LLM call: a threshold change only re-runs this)."""

    name: ClassVar[str] = "verify_select"
    reads: ClassVar[tuple[str, ...]] = ("verifications", "clean_samples", "selection")
    writes: ClassVar[str] = "selection"
    settings: VerifySettings = Field(default_factory=VerifySettings)

    def fingerprint(self, ctx: BuildContext) -> str:
        return ctx.fp("verify")  # the probabilities it reads; thresholds are applied, not stored

    def verdicts(self, ctx: BuildContext, sample_ids: list[str]) -> dict[str, str]:
        probs = checks_for(ctx.db_uri, sample_ids, ctx.fp("verify"))
        return verdicts(probs, sample_ids, self.settings, pair_langs(ctx.db_uri, sample_ids))
