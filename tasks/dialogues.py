"""dialogues stage: kept samples (+ their ``chunks``) -> ``dialogues`` (multi-turn follow-ups).

Each kept sample of the build can get ``follow_ups`` more exchanges (a dialogue of 2-4 user
turns) grounded in the same chunk, each follow-up building on the previous answer. One LLM call
per sample writes them all. Every turn is cleaned as the clean stage cleans question/answer/cot:
normalized (``clean_text``), checked for injected instructions
(``sftforge.cleaning.injection``) and PII-scrubbed (``sftforge.cleaning.pii``); the whole
dialogue is checked against the trainer rules (``sftforge.formats.row_problems``). A dialogue
that fails is stored with ``kept = false`` and its reason, and the sample stays single-turn.

Follow-ups cost one call per sample, so ``enabled = "auto"`` runs them only on a remote answer
endpoint (not on the embedded grammar-constrained model the demo uses).

Writes ``dialogues`` (dialogue_id, sample_id, doc_id, turns (JSON [{question, answer}]),
n_turns, kept, reason, pii, model, fingerprint); the release attaches kept ``turns`` to samples.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, Field, create_model

from sftforge import selection, store
from sftforge.cleaning import pii
from sftforge.cleaning.injection import suspected_injection
from sftforge.formats import row_problems
from sftforge.ids import child_id, sha256_text
from sftforge.llm.gateway import LLMJob
from sftforge.llm.prompting import render
from sftforge.stage import BuildContext, LLMStage
from tasks.clean import clean_text
from tasks.judge import judge_inputs

Switch = Literal["auto", "on", "off"]
# Completion room for remote models (the endpoint default, 1024, is sized for bounded JSON).
REMOTE_MAX_TOKENS = 8192


class DialogueSettings(BaseModel):
    """Multi-turn follow-ups (``SFTFORGE_DIALOGUES__ENABLED=on``, ``__FOLLOW_UPS=3``)."""

    # auto: on for a remote answer endpoint, off on the embedded model (one call per sample).
    enabled: Switch = "auto"
    follow_ups: int = Field(1, ge=1, le=3, description="Exchanges after the first (2-4 turns)")
    share: float = Field(1.0, ge=0.0, le=1.0, description="Share of kept samples that get them")


class Turn(BaseModel):
    """One follow-up exchange (bounds for the embedded llama.cpp grammar, see answers.py)."""

    question: str = Field(min_length=1, max_length=300)
    answer: str = Field(min_length=1, max_length=900)


class LongTurn(BaseModel):
    """One follow-up exchange from a remote model: no grammar, so no small length cap."""

    question: str = Field(min_length=1, max_length=2000)
    answer: str = Field(min_length=1, max_length=20000)


def follow_up_schema(n: int, bounded: bool = True) -> type[BaseModel]:
    """Reply schema holding exactly ``n`` follow-up turns (``bounded``: for the grammar)."""
    turn = Turn if bounded else LongTurn
    return create_model(f"FollowUps{n}", turns=(list[turn], Field(min_length=n, max_length=n)))


def switched_on(setting: Switch, ctx: BuildContext, role: str = "answer") -> bool:
    """Whether an optional LLM stage runs: ``auto`` = only off the embedded grammar model."""
    if setting != "auto":
        return setting == "on"
    return ctx.endpoints[role].json_mode != "schema_object"


def in_share(sample_id: str, share: float) -> bool:
    """A stable pick of ``share`` of the samples (the same ones every build)."""
    return int(sha256_text(f"share|{sample_id}")[:8], 16) / 0xFFFFFFFF < share


def dialogue_id(row: dict[str, Any], fp: str) -> str:
    """Id of the follow-ups of this exact first exchange under fingerprint ``fp``."""
    return child_id(row["sample_id"], fp, sha256_text(f"{row['question']}\n{row['answer']}")[:12])


def clean_turns(turns: list[dict[str, str]], first: tuple[str, str]) -> tuple[list[dict], str, dict]:
    """(cleaned + PII-scrubbed turns, drop reason or "", PII counts) of follow-ups that come
    after the first exchange ``first`` (question, answer)."""
    cleaned = [{k: clean_text(t[k]) for k in ("question", "answer")} for t in turns]
    texts = [t[k] for t in cleaned for k in ("question", "answer")]
    reason = ""
    if suspected_injection(*texts):
        reason = "prompt_injection"
    elif any(not t.strip() for t in texts):
        reason = "empty_turn"
    found: Counter[str] = Counter()
    for t in cleaned:
        for k in ("question", "answer"):
            t[k], kinds = pii.scrub(t[k])
            found.update(kinds)
    messages = [{"role": "user", "content": first[0]}, {"role": "assistant", "content": first[1]}]
    for t in cleaned:
        messages += [{"role": "user", "content": t["question"]},
                     {"role": "assistant", "content": t["answer"]}]
    problems = row_problems({"messages": messages}, "messages")
    if not reason and problems:
        reason = f"invalid_dialogue: {problems[0]}"
    return cleaned, reason, dict(found)


class DialoguesStage(LLMStage):
    """Kept ``clean_samples`` + ``chunks`` -> ``dialogues`` (see the module docstring)."""

    upstream: ClassVar[str | None] = "answers"
    name: ClassVar[str] = "dialogues"
    reads: ClassVar[tuple[str, ...]] = ("clean_samples", "samples", "chunks", "selection")
    writes: ClassVar[str] = "dialogues"
    role: ClassVar[str] = "answer"
    prompt: ClassVar[str] = "dialogues"
    schema: ClassVar[type[BaseModel]] = Turn  # per row: follow_up_schema(n)
    key: ClassVar[str] = "sample_id"
    settings: DialogueSettings = Field(default_factory=DialogueSettings)

    def fingerprint(self, ctx: BuildContext) -> str:
        # Whether and for how many samples it runs does not change a dialogue: only its length.
        only = DialoguesStage(settings=DialogueSettings(follow_ups=self.settings.follow_ups))
        return LLMStage.fingerprint(only, ctx)

    def inputs(self, ctx: BuildContext) -> list[dict[str, Any]]:
        if not switched_on(self.settings.enabled, ctx, self.role):
            return []
        ids = [s for s in selection.kept(ctx.db_uri, ctx.run_id)
               if in_share(s, self.settings.share)]
        bounded = ctx.endpoints[self.role].json_mode == "schema_object"
        return [{**r, "bounded": bounded} for r in judge_inputs(ctx.db_uri, ids)]

    def done(self, ctx: BuildContext, rows: list[dict[str, Any]]) -> set[str]:
        ids = {dialogue_id(r, ctx.fp(self.name)): r["sample_id"] for r in rows}
        have = store.read(ctx.db_uri, "dialogues", columns=["dialogue_id"],
                          where=store.sql_in("dialogue_id", list(ids)))
        return {ids[d] for d in have["dialogue_id"].to_list()}

    def schema_for(self, row: dict[str, Any]) -> type[BaseModel]:
        return follow_up_schema(self.settings.follow_ups, row.get("bounded", True))

    def job(self, row: dict[str, Any]) -> LLMJob:
        job = super().job(row)
        if not row.get("bounded", True):  # a remote model's follow-ups need room, like answers
            job.max_tokens = REMOTE_MAX_TOKENS
        return job

    def format_input(self, row: dict[str, Any]) -> list[dict[str, str]]:
        return render("dialogues", text=row["text"], question=row["question"],
                      answer=row["answer"], n=self.settings.follow_ups)

    def format_output(self, value: dict[str, Any], row: dict[str, Any],
                      reasoning: str = "") -> list[dict[str, Any]]:
        turns, reason, found = clean_turns(value["turns"], (row["question"], row["answer"]))
        return [{
            "dialogue_id": dialogue_id(row, row["output_fingerprint"]),
            "sample_id": row["sample_id"], "doc_id": row["doc_id"],
            "turns": json.dumps(turns, ensure_ascii=False), "n_turns": 1 + len(turns),
            "kept": not reason, "reason": reason, "pii": json.dumps(found),
            "model": row["output_model"], "fingerprint": row["output_fingerprint"],
        }]


def turns_for(db_uri: str, samples: list[dict[str, Any]], fp: str | None) -> dict[str, list]:
    """sample_id -> kept follow-up turns for release rows (cleaned ``question``/``answer``)."""
    if not fp or not samples:
        return {}
    ids = {dialogue_id(s, fp): s["sample_id"] for s in samples}
    rows = store.read(db_uri, "dialogues", where=store.sql_in("dialogue_id", list(ids)))
    return {ids[r["dialogue_id"]]: json.loads(r["turns"]) for r in rows.to_dicts() if r["kept"]}
