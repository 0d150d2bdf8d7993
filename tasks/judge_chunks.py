"""judge stage, per chunk: candidates' ``clean_samples`` + ``chunks`` -> ``judgements``, one LLM
request per chunk.

The per-chunk generation mode's judge: the source passage is sent once with all of its pending
pairs, and the reply holds one verdict per pair, in order. The ``judgements`` rows are exactly the
per-sample judge's (one per sample, same columns, same ``judgement_id`` scheme), and the stage
keeps the name ``judge``, so the thresholds stage, the card and the funnel work unchanged. A
reply with the wrong number of verdicts fails validation: the gateway re-asks, then the group is
ledgered in ``failures`` and its samples are dropped as ``judge_failed`` by the thresholds.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, Field, create_model

from sftforge import store
from sftforge.ids import sha256_text
from sftforge.llm.prompting import render
from sftforge.stage import BuildContext, LLMStage
from tasks.judge import JudgeSettings, JudgeStage, Verdict, judgement_id

# More pairs than this in one chunk are judged in several requests (prompt and reply stay small).
MAX_PAIRS_PER_REQUEST = 6


class PairVerdict(Verdict):
    """The judge's scores for one pair of the chunk (a shorter reason than the single judge's,
    so N verdicts fit one reply)."""

    reason: str = Field(max_length=150)


def verdicts_schema(n: int) -> type[BaseModel]:
    """Reply schema holding exactly ``n`` verdicts."""
    return create_model(f"Verdicts{n}",
                        verdicts=(list[PairVerdict], Field(min_length=n, max_length=n)))


def _source_key(row: dict[str, Any]) -> str:
    # Rows without a chunk (e.g. pairs planted to test the judge) group by their source text.
    return row.get("chunk_id") or f"text:{sha256_text(row['text'])[:16]}"


def group_by_chunk(samples: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Judge inputs (sample + source ``text``) -> one row per chunk part: ``group_id``,
    ``chunk_id``, ``doc_id``, ``text`` and ``samples`` (the input rows without ``text``), in
    chunk order."""
    by_chunk: dict[str, list[dict[str, Any]]] = {}
    for row in sorted(samples, key=lambda r: (_source_key(r), r["sample_id"])):
        by_chunk.setdefault(_source_key(row), []).append(row)
    groups = []
    for key, rows in by_chunk.items():
        for part in range(0, len(rows), MAX_PAIRS_PER_REQUEST):
            members = rows[part:part + MAX_PAIRS_PER_REQUEST]
            groups.append({
                "group_id": key if part == 0 else f"{key}:{part}", "chunk_id": key,
                "doc_id": members[0].get("doc_id") or "", "text": members[0]["text"],
                "samples": [{k: v for k, v in m.items() if k != "text"} for m in members]})
    return groups


class ChunkJudgeStage(LLMStage):
    """Candidates' ``clean_samples`` + ``chunks`` -> ``judgements`` (judgement_id, sample_id,
    clarity, faithfulness, relevance, completeness, overall, reason, injection_suspected), one
    request per chunk."""

    name: ClassVar[str] = "judge"
    reads: ClassVar[tuple[str, ...]] = ("clean_samples", "samples", "chunks", "selection")
    writes: ClassVar[str] = "judgements"
    role: ClassVar[str] = "judge"
    prompt: ClassVar[str] = "judge_chunks"
    key: ClassVar[str] = "group_id"
    temperature: ClassVar[float | None] = 0.0
    operational: ClassVar[frozenset[str]] = frozenset({"settings"})
    settings: JudgeSettings = Field(default_factory=JudgeSettings)

    def _samples(self, ctx: BuildContext) -> list[dict[str, Any]]:
        """What the per-sample judge would judge (the same rows, so nothing is left out)."""
        return JudgeStage(settings=self.settings).inputs(ctx)

    def inputs(self, ctx: BuildContext) -> list[dict[str, Any]]:
        return group_by_chunk(self._samples(ctx))

    def done(self, ctx: BuildContext, rows: list[dict[str, Any]]) -> set[str]:
        """Groups whose every sample already has a judgement of its current text."""
        fp = ctx.fp(self.name)
        ids = {judgement_id(s, fp) for r in rows for s in r["samples"]}
        have = set(store.read(ctx.db_uri, "judgements", columns=["judgement_id"],
                              where=store.sql_in("judgement_id", list(ids)))["judgement_id"])
        return {r["group_id"] for r in rows
                if all(judgement_id(s, fp) in have for s in r["samples"])}

    def pending(self, ctx: BuildContext) -> list[dict[str, Any]]:
        """Only the samples still without a judgement, grouped by chunk (a re-judged text does
        not make its chunk's other samples pay again)."""
        samples = self._samples(ctx)
        done = JudgeStage().done(ctx, samples)
        return group_by_chunk([s for s in samples if s["sample_id"] not in done])

    def schema_for(self, row: dict[str, Any]) -> type[BaseModel]:
        return verdicts_schema(len(row["samples"]))

    def format_input(self, row: dict[str, Any]) -> list[dict[str, str]]:
        return render("judge_chunks", text=row["text"], pairs=row["samples"])

    def format_output(self, value: dict[str, Any], row: dict[str, Any],
                      reasoning: str = "") -> list[dict[str, Any]]:
        """One ``judgements`` row per sample of the group, as the per-sample judge writes it."""
        single = JudgeStage()
        return [out for verdict, sample in zip(value["verdicts"], row["samples"], strict=True)
                for out in single.format_output(verdict, {**row, **sample})]
