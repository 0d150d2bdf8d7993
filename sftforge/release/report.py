"""What one build did, for ``summary.json`` and the card: stage records, quarantine, LLM usage.

The flow hands each stage's :class:`~sftforge.stage.StageStats` here; which samples were kept or
dropped is not kept here but in the ``selection`` table (``sftforge.selection.funnel``).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from sftforge.stage import StageStats


class BuildReport(BaseModel):
    """The facts of one build run, accumulated as its stages finish."""

    run_id: str
    db_uri: str
    params: dict[str, Any] = Field(default_factory=dict)
    stages: dict[str, StageStats] = Field(default_factory=dict)
    quarantined: list[dict[str, str]] = Field(default_factory=list)
    usage: dict[str, int] = Field(default_factory=dict)

    def record(self, stats: list[StageStats]) -> None:
        """Keep the records of finished stages (a stage seen twice is added up)."""
        for s in stats:
            self.stages[s.stage] = self.stages[s.stage].plus(s) if s.stage in self.stages else s

    def failure_rates(self) -> dict[str, Any]:
        """Per LLM stage: items, failed, rate and reasons (from the error-budget check)."""
        return {name: s.extra["failure_rate"] for name, s in self.stages.items()
                if "failure_rate" in s.extra}
