"""tag_nodes stage: ``questions`` (+ ``chunks`` heading path) and the active ``domain_nodes`` ->
``question_nodes``: the domain node of every question.

By embedding similarity, not by the LLM: the question (with its section heading) against each
active leaf node's path and description, with the multilingual USE embedder by default (numpy
only, Chinese and English in one space, no request paid per question). Candidates are the leaves
the question's document supports (``domain_tree_docs``), all active leaves when it supports none.
Tags depend on the tree: when it changes (``tree_sha``) every question is tagged again, which
costs embeddings only.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from pydantic import BaseModel, Field

from sftforge import store
from sftforge.domain.tree import leaves, path_of
from sftforge.embedding.embedders import MULTILINGUAL, get_embedder
from sftforge.ids import sha256_text
from sftforge.stage import BuildContext, Stage, StageStats
from tasks.domain_tree import linked_docs, read_nodes, tree_sha


class TagSettings(BaseModel):
    """Which embedder tags questions with domain nodes."""

    embedder: str = Field(MULTILINGUAL, description="use-multilingual | minilm | e5-small")


def current_tags(db_uri: str, question_ids: list[str]) -> dict[str, str]:
    """question_id -> node_id of its latest tag."""
    rows = store.read(db_uri, "question_nodes", columns=["question_id", "node_id"],
                      where=store.sql_in("question_id", question_ids))
    return dict(zip(rows["question_id"].to_list(), rows["node_id"].to_list()))


class TagNodesStage(Stage):
    """``questions`` of this build + active leaves of ``domain_nodes`` -> ``question_nodes``
    (question_id, doc_id, node_id, similarity, fingerprint = stage fp + tree sha)."""

    name: ClassVar[str] = "tag_nodes"
    reads: ClassVar[tuple[str, ...]] = ("questions", "chunks", "domain_nodes", "domain_tree_docs")
    writes: ClassVar[str] = "question_nodes"
    settings: TagSettings = Field(default_factory=TagSettings)

    def _tag_fp(self, ctx: BuildContext, nodes: dict[str, dict[str, Any]]) -> str:
        return sha256_text(f"{ctx.fp(self.name)}|{tree_sha(nodes)}")[:16]

    def pending(self, ctx: BuildContext) -> list[dict[str, Any]]:
        """This build's questions without a tag under the current tree."""
        nodes = read_nodes(ctx.db_uri)
        if not leaves(nodes) or "questions" not in ctx.fingerprints:
            return []
        where = f"fingerprint = '{ctx.fp('questions')}' AND " + store.sql_in("doc_id", ctx.doc_ids)
        qs = store.read(ctx.db_uri, "questions", where=where,
                        columns=["question_id", "doc_id", "chunk_id", "question"])
        have = store.read(ctx.db_uri, "question_nodes", columns=["question_id"], where=(
            f"fingerprint = '{self._tag_fp(ctx, nodes)}' AND "
            + store.sql_in("doc_id", ctx.doc_ids)))
        todo = qs.filter(~qs["question_id"].is_in(have["question_id"].to_list()))
        if todo.is_empty():
            return []
        heads = store.read(ctx.db_uri, "chunks", columns=["chunk_id", "heading_path"],
                           where=store.sql_in("chunk_id", todo["chunk_id"].unique().to_list()))
        return todo.join(heads, on="chunk_id", how="left").sort("question_id").to_dicts()

    def run(self, ctx: BuildContext, items: list[dict[str, Any]]) -> StageStats:
        """Tag every item with its nearest candidate leaf by cosine similarity."""
        nodes = read_nodes(ctx.db_uri)
        tips = leaves(nodes)
        embedder = get_embedder(self.settings.embedder)
        node_vecs = embedder.embed([f"{path_of(n['node_id'], nodes)}: {n['description']}"
                                    for n in tips])
        q_vecs = embedder.embed([f"{i.get('heading_path') or ''}\n{i['question']}".strip()
                                 for i in items])
        sims = q_vecs @ node_vecs.T  # unit rows: cosine
        links = linked_docs(ctx.db_uri)
        index = {n["node_id"]: k for k, n in enumerate(tips)}
        fp, rows = self._tag_fp(ctx, nodes), []
        for row, item in enumerate(items):
            allowed = [index[n] for n in links.get(item["doc_id"], []) if n in index]
            cols = np.array(allowed or list(range(len(tips))))
            best = int(cols[int(np.argmax(sims[row, cols]))])
            rows.append({"question_id": item["question_id"], "doc_id": item["doc_id"],
                         "node_id": tips[best]["node_id"],
                         "similarity": round(float(sims[row, best]), 4), "fingerprint": fp})
        store.upsert(ctx.db_uri, self.writes, rows)
        return StageStats(stage=self.name, items_in=len(items), kept=len(rows),
                          extra={"leaves": len(tips)})
