"""grounding stage: candidates' cleaned answers + their ``chunks`` -> ``groundings``; drops
answers their chunk does not support (``ungrounded``).

A deterministic score (no LLM call, ``sftforge.grounding.score``): the share of answer
sentences whose content words (Chinese: character pairs) are found in a window of the chunk.
It runs before the judge, so an endpoint's lenient judge is not the only gate and unsupported
answers cost no judge call. Scores are stored per answer text; the threshold applies apart.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

from pydantic import BaseModel, Field

from sftforge import store
from sftforge.grounding import score as score_module
from sftforge.grounding.score import MIN_GROUNDING, grounding_detail
from sftforge.ids import child_id, sha256_text
from sftforge.stage import BuildContext, CurationStage, StageStats
from tasks.judge import judge_inputs

RULES = sha256_text(open(score_module.__file__, encoding="utf-8").read())[:12]


class GroundingSettings(BaseModel):
    """Threshold of the grounding score (applied to stored scores)."""

    min_score: float = Field(MIN_GROUNDING, ge=0.0, le=1.0, description=(
        "Lowest share of supported answer sentences kept; 0 turns the check off"))


def grounding_id(sample: dict[str, Any]) -> str:
    """Id of the score of this exact answer against this chunk text, under these rules."""
    return child_id(sample["sample_id"], RULES, sha256_text(sample["answer"] + sample["text"])[:12])


def grounding_row(sample: dict[str, Any]) -> dict[str, Any]:
    """One ``groundings`` row: score and the (at most 3) unsupported sentences."""
    detail = grounding_detail(sample["answer"], sample["text"])
    missing = [s.sentence for s in detail.sentences if not s.supported][:3]
    return {"grounding_id": grounding_id(sample), "sample_id": sample["sample_id"],
            "score": round(detail.score, 4), "unsupported": json.dumps(missing, ensure_ascii=False),
            "fingerprint": RULES}


def scores_of(db_uri: str, samples: list[dict[str, Any]]) -> dict[str, float]:
    """sample_id -> stored grounding score of its current answer."""
    wanted = {grounding_id(s): s["sample_id"] for s in samples}
    rows = store.read(db_uri, "groundings", columns=["grounding_id", "score"],
                      where=store.sql_in("grounding_id", list(wanted)))
    return {wanted[g]: s for g, s in rows.iter_rows()}


class GroundingStage(CurationStage):
    """``clean_samples`` + ``chunks`` -> ``groundings``; drops scores under the threshold."""

    name: ClassVar[str] = "grounding"
    reads: ClassVar[tuple[str, ...]] = ("clean_samples", "samples", "chunks", "selection")
    writes: ClassVar[str] = "groundings"
    settings: GroundingSettings = Field(default_factory=GroundingSettings)

    def fingerprint(self, ctx: BuildContext) -> str:
        return RULES

    def pending(self, ctx: BuildContext) -> list[dict[str, Any]]:
        samples = judge_inputs(ctx.db_uri, self.candidates(ctx))
        have = scores_of(ctx.db_uri, samples)
        return [s for s in samples if s["sample_id"] not in have]

    def run(self, ctx: BuildContext, items: list[dict[str, Any]]) -> StageStats:
        rows = [grounding_row(s) for s in items]
        store.upsert(ctx.db_uri, "groundings", rows)
        return StageStats(stage=self.name, items_in=len(items), kept=len(rows))

    def verdicts(self, ctx: BuildContext, sample_ids: list[str]) -> dict[str, str]:
        scores = scores_of(ctx.db_uri, judge_inputs(ctx.db_uri, sample_ids))
        return {s: "ungrounded" for s, v in scores.items() if v < self.settings.min_score}
