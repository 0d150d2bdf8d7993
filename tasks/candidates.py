"""candidates stage: this build's ``samples`` -> ``selection`` (every one kept, to start with).

The curation stages after it read the build's kept samples from ``selection`` and record their
drops there, so the funnel of a build is one group-by.
"""

from __future__ import annotations

from typing import ClassVar

from sftforge import selection, store
from sftforge.stage import BuildContext, Stage, StageStats


def current_samples(db_uri: str, doc_ids: list[str], answers_fp: str) -> dict[str, str]:
    """sample_id -> doc_id of the samples the current answers stage made for the documents."""
    where = f"fingerprint = '{answers_fp}' AND " + store.sql_in("doc_id", doc_ids)
    frame = store.read(db_uri, "samples", where=where, columns=["sample_id", "doc_id"])
    return dict(zip(frame["sample_id"].to_list(), frame["doc_id"].to_list()))


class CandidatesStage(Stage):
    """``samples`` of this build's documents (current answers fingerprint) -> ``selection``."""

    name: ClassVar[str] = "candidates"
    reads: ClassVar[tuple[str, ...]] = ("samples",)
    writes: ClassVar[str] = "selection"
    selects: ClassVar[bool] = True

    def fingerprint(self, ctx: BuildContext) -> str:
        return ctx.fp("answers")

    def select(self, ctx: BuildContext) -> StageStats:
        samples = current_samples(ctx.db_uri, ctx.doc_ids, ctx.fp("answers"))
        n = selection.seed(ctx.db_uri, ctx.run_id, self.name, samples)
        return StageStats(stage=self.name, items_in=n, kept=n)
