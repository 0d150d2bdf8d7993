"""DPO preference pairs: a degraded (rejected) answer per kept sample, judged like the chosen one.

Three stages, all no-ops unless switched on (``auto`` = on for a remote answer endpoint only, as
they cost two calls per sample):

- ``rejected`` (LLM, answer role): kept ``clean_samples`` + ``chunks`` -> ``rejected_answers``
  (rejected_id, sample_id, doc_id, question, rejected, kind, kept, reason, pii, model,
  fingerprint): the chosen answer rewritten with a planted factual error (``planted_error``), or
  an answer written without the passage (``no_passage``); cleaned, injection-checked and
  PII-scrubbed like every generated text.
- ``judge_rejected`` (LLM, judge role): the same judge, prompt and scores as ``judge``, on the
  rejected answer -> ``rejected_judgements`` (the ``judgements`` columns).
- ``pairs`` (every build, no LLM): this build's kept samples -> ``preference_pairs`` (pair_id,
  run_id, sample_id, rejected_id, chosen_score, rejected_score, margin, kept, reason): a pair is
  kept only when the judge scores chosen at least ``margin`` above rejected.

The release attaches ``rejected``/``preference`` to kept samples (:func:`pairs_for`); the
export writes them as LLaMA-Factory ranking files and ms-swift ``rejected_response`` rows.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, Field

from sftforge import selection, store
from sftforge.cleaning import pii
from sftforge.cleaning.injection import suspected_injection
from sftforge.ids import child_id, sha256_text
from sftforge.llm.gateway import LLMJob
from sftforge.llm.prompting import prompt_sha, render
from sftforge.stage import BuildContext, LLMStage, Stage, StageStats
from tasks.answers import answer_mode
from tasks.clean import clean_text
from tasks.dialogues import REMOTE_MAX_TOKENS, Switch, switched_on
from tasks.judge import JudgeStage, judge_inputs, judgement_id, scores_for


class PreferenceSettings(BaseModel):
    """DPO pairs (``SFTFORGE_PREFERENCES__ENABLED=on``, ``__MARGIN=2``)."""

    enabled: Switch = "auto"
    kind: Literal["planted_error", "no_passage"] = "planted_error"
    # Judge ``overall`` points (1-10) chosen must score above rejected for a pair to be kept.
    margin: float = Field(2.0, ge=0.0, le=9.0)


class Degraded(BaseModel):
    """The flawed answer (JSON mode, embedded model)."""

    answer: str = Field(min_length=1, max_length=900)


def rejected_id(row: dict[str, Any], fp: str) -> str:
    """Id of the rejected answer made for this exact chosen text under fingerprint ``fp``."""
    return child_id(row["sample_id"], fp, sha256_text(f"{row['question']}\n{row['answer']}")[:12])


def clean_rejected(text: str) -> tuple[str, str, dict[str, int]]:
    """(cleaned + PII-scrubbed text, drop reason or "", PII counts) of a rejected answer."""
    cleaned = clean_text(text)
    reason = ("prompt_injection" if suspected_injection(cleaned)
              else "" if cleaned.strip() else "empty_answer")
    scrubbed, found = pii.scrub(cleaned)
    return scrubbed, reason, found


class RejectedStage(LLMStage):
    """Kept ``clean_samples`` + ``chunks`` -> ``rejected_answers`` (module docstring)."""

    upstream: ClassVar[str | None] = "answers"
    name: ClassVar[str] = "rejected"
    reads: ClassVar[tuple[str, ...]] = ("clean_samples", "samples", "chunks", "selection")
    writes: ClassVar[str] = "rejected_answers"
    role: ClassVar[str] = "answer"
    prompt: ClassVar[str] = "rejected"
    schema: ClassVar[type[BaseModel]] = Degraded
    key: ClassVar[str] = "sample_id"
    settings: PreferenceSettings = Field(default_factory=PreferenceSettings)

    def fingerprint(self, ctx: BuildContext) -> str:
        # The margin and the switch do not change a rejected answer; the kind and mode do.
        only = RejectedStage(settings=PreferenceSettings(kind=self.settings.kind))
        return child_id(LLMStage.fingerprint(only, ctx), prompt_sha(self.prompt),
                        answer_mode(ctx))

    def inputs(self, ctx: BuildContext) -> list[dict[str, Any]]:
        if not switched_on(self.settings.enabled, ctx, self.role):
            return []
        mode = answer_mode(ctx)  # like answers: bounded JSON only on the embedded model
        return [{**r, "mode": mode}
                for r in judge_inputs(ctx.db_uri, selection.kept(ctx.db_uri, ctx.run_id))]

    def done(self, ctx: BuildContext, rows: list[dict[str, Any]]) -> set[str]:
        ids = {rejected_id(r, ctx.fp(self.name)): r["sample_id"] for r in rows}
        have = store.read(ctx.db_uri, self.writes, columns=["rejected_id"],
                          where=store.sql_in("rejected_id", list(ids)))
        return {ids[i] for i in have["rejected_id"].to_list()}

    def schema_for(self, row: dict[str, Any]) -> type[BaseModel] | None:
        return Degraded if row.get("mode") == "json" else None

    def job(self, row: dict[str, Any]) -> LLMJob:
        job = super().job(row)
        if row.get("mode") == "text":  # a flawed twin of a long Markdown answer needs room
            job.max_tokens = REMOTE_MAX_TOKENS
        return job

    def format_input(self, row: dict[str, Any]) -> list[dict[str, str]]:
        return render(self.prompt, kind=self.settings.kind, text=row["text"],
                      question=row["question"], answer=row["answer"],
                      json=row.get("mode") == "json")

    def format_output(self, value: dict[str, Any], row: dict[str, Any],
                      reasoning: str = "") -> list[dict[str, Any]]:
        text, reason, found = clean_rejected(value.get("answer") or value.get("text") or "")
        if not reason and text.strip() == row["answer"].strip():
            reason = "same_as_chosen"
        return [{
            "rejected_id": rejected_id(row, row["output_fingerprint"]),
            "sample_id": row["sample_id"], "doc_id": row["doc_id"], "question": row["question"],
            "rejected": text, "kind": self.settings.kind, "kept": not reason, "reason": reason,
            "pii": json.dumps(found), "model": row["output_model"],
            "fingerprint": row["output_fingerprint"],
        }]


class RejectedJudgeStage(JudgeStage):
    """Current kept ``rejected_answers`` + ``chunks`` -> ``rejected_judgements`` (the judge's
    prompt and scores on the rejected answer; ``rejected_id`` added)."""

    name: ClassVar[str] = "judge_rejected"
    upstream: ClassVar[str | None] = "rejected"
    reads: ClassVar[tuple[str, ...]] = ("rejected_answers", "clean_samples", "chunks")
    writes: ClassVar[str] = "rejected_judgements"
    settings: PreferenceSettings = Field(default_factory=PreferenceSettings)

    def fingerprint(self, ctx: BuildContext) -> str:
        return JudgeStage.fingerprint(JudgeStage(), ctx)  # the same judge as the chosen answers

    def inputs(self, ctx: BuildContext) -> list[dict[str, Any]]:
        if not switched_on(self.settings.enabled, ctx, "answer") or "rejected" not in ctx.fingerprints:
            return []
        chosen = judge_inputs(ctx.db_uri, selection.kept(ctx.db_uri, ctx.run_id))
        rejected = current_rejected(ctx.db_uri, chosen, ctx.fp("rejected"))
        return [{**r, "answer": rejected[r["sample_id"]]["rejected"],
                 "rejected_id": rejected[r["sample_id"]]["rejected_id"]}
                for r in chosen if r["sample_id"] in rejected]

    def done(self, ctx: BuildContext, rows: list[dict[str, Any]]) -> set[str]:
        fp = ctx.fp(self.name)
        ids = {judgement_id(r, fp): r["sample_id"] for r in rows}
        have = store.read(ctx.db_uri, self.writes, columns=["judgement_id"],
                          where=store.sql_in("judgement_id", list(ids)))
        return {ids[j] for j in have["judgement_id"].to_list()}

    def format_output(self, value: dict[str, Any], row: dict[str, Any],
                      reasoning: str = "") -> list[dict[str, Any]]:
        return [{**out, "rejected_id": row["rejected_id"]}
                for out in super().format_output(value, row, reasoning)]


def current_rejected(db_uri: str, chosen: list[dict[str, Any]], fp: str) -> dict[str, dict]:
    """sample_id -> its kept rejected answer made for the current chosen text (``chosen`` rows
    carry the cleaned ``question``/``answer``)."""
    ids = [rejected_id(r, fp) for r in chosen]
    rows = store.read(db_uri, "rejected_answers", where=store.sql_in("rejected_id", ids))
    return {r["sample_id"]: r for r in rows.to_dicts() if r["kept"]}


def pair_verdict(chosen: float | None, rejected: float | None, margin: float) -> str:
    """Why a pair is left out ("" = kept): scores missing, or chosen not ``margin`` above."""
    if chosen is None:
        return "chosen_not_judged"
    if rejected is None:
        return "rejected_not_judged"
    return "" if chosen - rejected >= margin else f"margin_under_{margin:g}"


class PairsStage(Stage):
    """This build's kept samples + both judgements -> ``preference_pairs`` (every build; a
    margin change re-runs no LLM call)."""

    name: ClassVar[str] = "pairs"
    reads: ClassVar[tuple[str, ...]] = ("judgements", "rejected_answers", "rejected_judgements")
    writes: ClassVar[str] = "preference_pairs"
    selects: ClassVar[bool] = True
    settings: PreferenceSettings = Field(default_factory=PreferenceSettings)

    def select(self, ctx: BuildContext) -> StageStats:
        if not (switched_on(self.settings.enabled, ctx, "answer")
                and {"judge", "rejected", "judge_rejected"} <= set(ctx.fingerprints)):
            return StageStats(stage=self.name)
        chosen = judge_inputs(ctx.db_uri, selection.kept(ctx.db_uri, ctx.run_id))
        ids = [rejected_id(r, ctx.fp("rejected")) for r in chosen]
        made = {r["sample_id"]: r for r in store.read(
            ctx.db_uri, "rejected_answers", where=store.sql_in("rejected_id", ids)).to_dicts()}
        scores = scores_for(ctx.db_uri, [r["sample_id"] for r in chosen], ctx.fp("judge"))
        judged = rejected_scores(ctx.db_uri, chosen, made, ctx.fp("judge_rejected"))
        rows = [self._pair(ctx.run_id, r, made.get(r["sample_id"]), scores.get(r["sample_id"]),
                           judged.get(r["sample_id"])) for r in chosen]
        store.upsert(ctx.db_uri, self.writes, rows)
        dropped: dict[str, int] = {}
        for row in rows:
            if row["reason"]:
                dropped[row["reason"]] = dropped.get(row["reason"], 0) + 1
        return StageStats(stage=self.name, items_in=len(rows), kept=len(rows) - sum(
            dropped.values()), dropped=dropped, extra={"margin": self.settings.margin})

    def _pair(self, run_id: str, chosen: dict[str, Any], made: dict[str, Any] | None,
              score: dict[str, Any] | None, rejected_score: float | None) -> dict[str, Any]:
        """One ``preference_pairs`` row of a kept sample."""
        chosen_score = score["overall"] if score else None
        reason = ("no_rejected_answer" if made is None else made["reason"]
                  or pair_verdict(chosen_score, rejected_score, self.settings.margin))
        margin = (round(chosen_score - rejected_score, 2)
                  if chosen_score is not None and rejected_score is not None else None)
        return {"pair_id": child_id(run_id, "pair", chosen["sample_id"]),
                "run_id": run_id, "sample_id": chosen["sample_id"],
                "rejected_id": made["rejected_id"] if made else "",
                "chosen_score": chosen_score, "rejected_score": rejected_score,
                "margin": margin, "kept": not reason, "reason": reason}


def rejected_scores(db_uri: str, chosen: list[dict[str, Any]], made: dict[str, dict],
                    fp: str) -> dict[str, float]:
    """sample_id -> judge ``overall`` of its kept rejected answer (judge_rejected fingerprint
    ``fp``), read in one query."""
    wanted = {judgement_id({**r, "answer": made[r["sample_id"]]["rejected"]}, fp): r["sample_id"]
              for r in chosen if made.get(r["sample_id"], {}).get("kept")}
    rows = store.read(db_uri, "rejected_judgements", columns=["judgement_id", "overall"],
                      where=store.sql_in("judgement_id", list(wanted)))
    return {wanted[r["judgement_id"]]: r["overall"] for r in rows.to_dicts()}


def pairs_for(db_uri: str, run_id: str) -> dict[str, dict[str, Any]]:
    """sample_id -> {rejected, preference: {kind, chosen_score, rejected_score, margin}} of the
    pairs this build kept (for the release rows)."""
    safe = run_id.replace("'", "''")
    pairs = store.read(db_uri, "preference_pairs", where=f"run_id = '{safe}' AND kept = true")
    if pairs.is_empty():
        return {}
    made = {r["rejected_id"]: r for r in store.read(db_uri, "rejected_answers", where=(
        store.sql_in("rejected_id", pairs["rejected_id"].to_list()))).to_dicts()}
    return {p["sample_id"]: {"rejected": made[p["rejected_id"]]["rejected"], "preference": {
        "kind": made[p["rejected_id"]]["kind"], "chosen_score": p["chosen_score"],
        "rejected_score": p["rejected_score"], "margin": p["margin"]}}
        for p in pairs.to_dicts() if p["rejected_id"] in made}


def preference_stages(settings: PreferenceSettings) -> list[Stage]:
    """The three DPO stages in order (they need the judge: list them only when it runs)."""
    return [RejectedStage(settings=settings), RejectedJudgeStage(settings=settings),
            PairsStage(settings=settings)]
