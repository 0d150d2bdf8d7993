"""judge stage: ``clean_samples`` (+ source ``chunks``) -> ``judgements``; thresholds apart.

Scores (1-10: clarity, faithfulness to the source chunk, relevance, completeness) are stored once
per (cleaned sample text, judge fingerprint): a cleaning change that alters a text re-judges it.
The thresholds stage (:class:`ThresholdsStage`) applies :func:`apply_thresholds` to the stored
scores, so changing a threshold re-runs no LLM call. Document text is data: a pattern scan plus the judge's own flag
mark samples whose text tries to steer the judge (``injection_suspected``).
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from pydantic import BaseModel, Field

from sftforge import selection, store
from sftforge.cleaning.injection import INJECTION, suspected_injection  # noqa: F401 (re-export)
from sftforge.grounding.planted import catch_rate, planted_samples
from sftforge.ids import child_id, sha256_text
from sftforge.llm.prompting import render
from sftforge.sample_pairs import pair_inputs as judge_inputs  # the judge's (and others') rows
from sftforge.settings import EndpointSpec
from sftforge.stage import BuildContext, CurationStage, LLMStage
from sftforge.verifier.store import checks_for, quality

DIMENSIONS = ("clarity", "faithfulness", "relevance", "completeness")



class JudgeSettings(BaseModel):
    """Thresholds applied to stored scores (none is part of the judge fingerprint), and the
    size of the judge's self-check."""

    min_overall: float = 6.0
    min_faithfulness: int = 5
    drop_injection: bool = True
    # Planted-error pairs judged beside the real samples to measure the judge (never
    # exported). None: all 12 on an endpoint, 4 on the embedded CPU model (each costs a call
    # once; the request cache keeps them for later builds).
    self_check_pairs: int | None = Field(None, ge=0, le=12)


class Verdict(BaseModel):
    """The judge's scores for one sample."""

    clarity: int = Field(ge=1, le=10)
    faithfulness: int = Field(ge=1, le=10)
    relevance: int = Field(ge=1, le=10)
    completeness: int = Field(ge=1, le=10)
    reason: str = Field(max_length=400)
    # Not "injection": a small judge of web-security pairs reads that as "about SQL injection"
    # and flagged every pair of an SQL-injection chunk (3 of 9 judged pairs in one benchmark).
    addresses_reviewer: bool = False


def judgement_id(sample: dict[str, Any], fp: str) -> str:
    """Id of the judgement of this exact sample text under judge fingerprint ``fp``."""
    text_sha = sha256_text(f"{sample['question']}\n{sample['answer']}")[:12]
    return child_id(sample["sample_id"], fp, text_sha)




def scores_for(db_uri: str, sample_ids: list[str], fp: str) -> dict[str, dict]:
    """sample_id -> the judgement of its current cleaned text under judge fingerprint ``fp``.

    Keyed by :func:`judgement_id`, so a score given to an earlier text never applies.
    """
    if not sample_ids:
        return {}
    clean = store.read(db_uri, "clean_samples", where=store.sql_in("sample_id", sample_ids),
                       columns=["sample_id", "question", "answer"])
    wanted = {judgement_id(r, fp): r["sample_id"] for r in clean.to_dicts()}
    rows = store.read(db_uri, "judgements", where=store.sql_in("judgement_id", list(wanted)))
    return {wanted[r["judgement_id"]]: r for r in rows.to_dicts()}


EMBEDDED_SELF_CHECK = 4


def self_check_samples(settings: JudgeSettings, judge: EndpointSpec) -> list[dict[str, Any]]:
    """The planted pairs this build sends to the judge (``judge_inputs``-shaped rows)."""
    n = settings.self_check_pairs
    if n is None:
        n = EMBEDDED_SELF_CHECK if judge.embedded else None
    return planted_samples(n)


def self_check(db_uri: str, settings: JudgeSettings, judge: EndpointSpec,
               fp: str) -> dict[str, Any]:
    """How many planted errors the current judge caught at ``settings`` (``catch_rate``)."""
    asked = self_check_samples(settings, judge)
    ids = {judgement_id(s, fp): s["sample_id"] for s in asked}
    rows = store.read(db_uri, "judgements", where=store.sql_in("judgement_id", list(ids)))
    verdicts = {ids[r["judgement_id"]]: r for r in rows.to_dicts()}
    keep = lambda row: apply_thresholds(row, settings)  # noqa: E731
    return catch_rate(verdicts, keep, [s["sample_id"] for s in asked])


class JudgeStage(LLMStage):
    """Candidates' ``clean_samples`` + ``chunks`` -> ``judgements`` (judgement_id, sample_id,
    clarity, faithfulness, relevance, completeness, overall, reason, injection_suspected)."""

    upstream: ClassVar[str | None] = "answers"
    name: ClassVar[str] = "judge"
    reads: ClassVar[tuple[str, ...]] = ("clean_samples", "samples", "chunks", "selection")
    writes: ClassVar[str] = "judgements"
    role: ClassVar[str] = "judge"
    prompt: ClassVar[str] = "judge"
    schema: ClassVar[type[BaseModel]] = Verdict
    key: ClassVar[str] = "sample_id"
    temperature: ClassVar[float | None] = 0.0
    operational: ClassVar[frozenset[str]] = frozenset({"settings"})
    settings: JudgeSettings = Field(default_factory=JudgeSettings)

    def inputs(self, ctx: BuildContext) -> list[dict[str, Any]]:
        """This build's kept samples, plus the planted-error pairs of the self-check."""
        real = judge_inputs(ctx.db_uri, selection.kept(ctx.db_uri, ctx.run_id))
        return real + self_check_samples(self.settings, ctx.endpoints[self.role])

    def done(self, ctx: BuildContext, rows: list[dict[str, Any]]) -> set[str]:
        fp = ctx.fp(self.name)
        ids = {judgement_id(r, fp): r["sample_id"] for r in rows}
        have = store.read(ctx.db_uri, "judgements", columns=["judgement_id"],
                          where=store.sql_in("judgement_id", list(ids)))
        return {ids[j] for j in have["judgement_id"].to_list()}

    def format_input(self, row: dict[str, Any]) -> list[dict[str, str]]:
        return render("judge", text=row["text"], question=row["question"], answer=row["answer"])

    def format_output(self, value: dict[str, Any], row: dict[str, Any],
                      reasoning: str = "") -> list[dict[str, Any]]:
        """One ``judgements`` row; ``overall`` is the mean of the four dimensions."""
        fp = row["output_fingerprint"]
        scores = {d: int(value[d]) for d in DIMENSIONS}
        flagged = bool(value.get("addresses_reviewer")) or suspected_injection(
            row["text"], row["question"], row["answer"])
        return [{
            "judgement_id": judgement_id(row, fp), "sample_id": row["sample_id"], **scores,
            "overall": round(sum(scores.values()) / len(scores), 2), "reason": value["reason"],
            "injection_suspected": flagged, "model": row["output_model"], "fingerprint": fp,
        }]


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


class ThresholdsStage(CurationStage):
    """Stored ``judgements`` -> ``selection``: drops candidates under the thresholds, with the
    reason (no LLM call: a threshold change only re-runs this)."""

    name: ClassVar[str] = "thresholds"
    reads: ClassVar[tuple[str, ...]] = ("judgements", "clean_samples", "selection")
    writes: ClassVar[str] = "selection"
    settings: JudgeSettings = Field(default_factory=JudgeSettings)

    def fingerprint(self, ctx: BuildContext) -> str:
        return ctx.fp("judge")  # the verdicts it reads; thresholds are applied, not stored

    def verdicts(self, ctx: BuildContext, sample_ids: list[str]) -> dict[str, str]:
        scores = scores_for(ctx.db_uri, sample_ids, ctx.fp("judge"))
        out = {}
        for sid in sample_ids:
            ok, reason = apply_thresholds(scores.get(sid), self.settings)
            if not ok:
                out[sid] = reason
        return out


def rank_scores(ctx: BuildContext, sample_ids: list[str]) -> dict[str, float]:
    """sample_id -> a 0-10 quality to rank samples by (dedup's best item, balance): the
    judge's overall when the judge ran in this build, else 10 x the verifier's weakest check."""
    if "judge" in ctx.fingerprints:
        scores = scores_for(ctx.db_uri, sample_ids, ctx.fp("judge"))
        return {sid: row["overall"] for sid, row in scores.items()}
    if "verify" in ctx.fingerprints:
        probs = checks_for(ctx.db_uri, sample_ids, ctx.fp("verify"))
        return {sid: round(10 * quality(checks), 3) for sid, checks in probs.items()}
    return {}
