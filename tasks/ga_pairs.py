"""ga_pairs stage: ``documents`` (+ first ``chunks``) -> ``ga_pairs``: N genre x audience pairs
per document (Genre-Audience augmentation).

The questions stage then asks for each chunk's questions once per pair as well (written as that
genre, for that audience), and the answers stage writes for that reader without naming the pair;
``genre`` and ``audience`` travel with the questions and samples into ``samples.jsonl``.
On the embedded CPU model every pair multiplies question and answer calls, so there the default
is no pairs (``GASettings.on_embedded``).
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

from pydantic import BaseModel, Field, create_model

from sftforge import store
from sftforge.ids import child_id
from sftforge.llm.endpoints import language_name
from sftforge.llm.local import MODEL_ALIAS
from sftforge.llm.prompting import render
from sftforge.stage import BuildContext, LLMStage

_HEADINGS = 30  # headings shown per document: enough to see its scope, bounded prompt
_OPENING_CHARS = 600


class GASettings(BaseModel):
    """Genre x audience pairs per document (0 = off)."""

    pairs_per_doc: int = Field(3, ge=0, le=8)
    # The embedded CPU model answers one request at a time: pairs multiply the build's time,
    # so they are off there unless asked for (SFTFORGE_GA__ON_EMBEDDED=true).
    on_embedded: bool = False

    def pairs_for(self, ctx: BuildContext) -> int:
        """Pairs per document in this build (0 on the embedded model unless ``on_embedded``)."""
        ep = ctx.endpoints.get("question")
        embedded = ep is not None and ep.model == MODEL_ALIAS
        return 0 if embedded and not self.on_embedded else self.pairs_per_doc


class GAPair(BaseModel):
    """One genre x audience pair."""

    genre: str = Field(min_length=3, max_length=80)
    audience: str = Field(min_length=3, max_length=80)


def pair_schema(n: int) -> type[BaseModel]:
    """Reply schema with exactly ``n`` pairs."""
    return create_model(f"GAPairs{n}", pairs=(list[GAPair], Field(min_length=n, max_length=n)))


def pairs_of(db_uri: str, doc_ids: list[str], fp: str) -> dict[str, list[dict[str, Any]]]:
    """doc_id -> its ``ga_pairs`` rows (pair_id, genre, audience) under ``fp``, in order."""
    rows = store.read(db_uri, "ga_pairs", where=f"fingerprint = '{fp}' AND "
                      + store.sql_in("doc_id", doc_ids))
    out: dict[str, list[dict[str, Any]]] = {}
    for r in rows.sort(["doc_id", "idx"]).to_dicts():
        out.setdefault(r["doc_id"], []).append(r)
    return out


class GAPairsStage(LLMStage):
    """``documents`` (title, toc, lang) + first ``chunks`` -> ``ga_pairs`` (pair_id, doc_id, idx,
    genre, audience, fingerprint); one request per document."""

    name: ClassVar[str] = "ga_pairs"
    reads: ClassVar[tuple[str, ...]] = ("documents", "chunks")
    writes: ClassVar[str] = "ga_pairs"
    role: ClassVar[str] = "question"
    prompt: ClassVar[str] = "ga_pairs"
    key: ClassVar[str] = "doc_id"
    settings: GASettings = Field(default_factory=GASettings)

    def inputs(self, ctx: BuildContext) -> list[dict[str, Any]]:
        """This build's parsed documents with their headings and opening text."""
        if not self.settings.pairs_for(ctx) or not ctx.doc_ids:
            return []
        docs = store.read(ctx.db_uri, "documents", columns=["doc_id", "title", "toc", "lang"],
                          where=store.sql_in("doc_id", ctx.doc_ids))
        chunks = store.read(ctx.db_uri, "chunks", columns=["doc_id", "idx", "text"],
                            where=store.sql_in("doc_id", ctx.doc_ids) + " AND idx = 0")
        opening = dict(zip(chunks["doc_id"].to_list(), chunks["text"].to_list()))
        return [{"doc_id": d["doc_id"], "title": d["title"] or "", "lang": d["lang"],
                 "headings": [str(t[1]) for t in json.loads(d["toc"] or "[]")][:_HEADINGS],
                 "opening": (opening.get(d["doc_id"]) or "")[:_OPENING_CHARS]}
                for d in docs.sort("doc_id").to_dicts()]

    def done(self, ctx: BuildContext, rows: list[dict[str, Any]]) -> set[str]:
        have = store.read(ctx.db_uri, "ga_pairs", columns=["doc_id"], where=(
            f"fingerprint = '{ctx.fp(self.name)}' AND " + store.sql_in("doc_id", ctx.doc_ids)))
        return set(have["doc_id"].to_list())

    def schema_for(self, row: dict[str, Any]) -> type[BaseModel]:
        return pair_schema(self.settings.pairs_per_doc)

    def format_input(self, row: dict[str, Any]) -> list[dict[str, str]]:
        return render("ga_pairs", title=row["title"], headings=row["headings"],
                      opening=row["opening"], n=self.settings.pairs_per_doc,
                      language_name=language_name(row["lang"]))

    def format_output(self, value: dict[str, Any], row: dict[str, Any],
                      reasoning: str = "") -> list[dict[str, Any]]:
        fp = row["output_fingerprint"]
        return [{"pair_id": child_id(row["doc_id"], fp, i), "doc_id": row["doc_id"], "idx": i,
                 "genre": p["genre"].strip(), "audience": p["audience"].strip(),
                 "fingerprint": fp} for i, p in enumerate(value["pairs"])]
