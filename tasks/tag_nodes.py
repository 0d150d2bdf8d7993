"""tag_nodes stage: ``questions`` (+ ``chunks`` heading path) and the active ``domain_nodes`` ->
``question_nodes``: the domain node of every question.

From the question's document and its chunk's heading path first, deterministically: the
candidates are the leaves the document supports (``domain_tree_docs``: its topic, or its main
sections), all active leaves when it supports none; a single candidate, or the one whose label
is a heading of the chunk's path, is the tag (``similarity`` 1.0). Only where that is ambiguous
(a chunk under an introduction, or no heading) does embedding similarity choose: the question
(with its section heading) against each candidate's path and description, with the multilingual
USE embedder by default (numpy only, Chinese and English in one space, no request paid per
question). Tags depend on the tree: when it changes (``tree_sha``) every question is tagged
again.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from pydantic import BaseModel, Field

from sftforge import store
from sftforge.domain.skeleton import heading_match
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
        """Tag every item by its heading path, the ambiguous ones by cosine similarity."""
        nodes = read_nodes(ctx.db_uri)
        tips = leaves(nodes)
        links = linked_docs(ctx.db_uri)
        fp, rows, ambiguous = self._tag_fp(ctx, nodes), [], []
        for item in items:
            cands = _candidates(links.get(item["doc_id"], []), tips, nodes)
            nid = heading_match(item.get("heading_path") or "", cands)
            if nid is None:
                ambiguous.append((item, cands))
                continue
            rows.append(_tag_row(item, nid, 1.0, fp))
        rows += self._by_similarity(ambiguous, nodes, fp)
        store.upsert(ctx.db_uri, self.writes, rows)
        return StageStats(stage=self.name, items_in=len(items), kept=len(rows),
                          extra={"leaves": len(tips), "by_heading": len(rows) - len(ambiguous),
                                 "by_similarity": len(ambiguous)})

    def _by_similarity(self, todo: list[tuple[dict[str, Any], list[dict[str, Any]]]],
                       nodes: dict[str, dict[str, Any]], fp: str) -> list[dict[str, Any]]:
        """Tags of ambiguous items: the candidate nearest to the question by cosine."""
        if not todo:
            return []
        tips = {c["node_id"]: c for _, cands in todo for c in cands}
        order = sorted(tips)
        embedder = get_embedder(self.settings.embedder)
        node_vecs = embedder.embed([f"{path_of(n, nodes)}: {tips[n]['description']}"
                                    for n in order])
        q_vecs = embedder.embed([f"{i.get('heading_path') or ''}\n{i['question']}".strip()
                                 for i, _ in todo])
        sims = q_vecs @ node_vecs.T  # unit rows: cosine
        index = {n: k for k, n in enumerate(order)}
        rows = []
        for row, (item, cands) in enumerate(todo):
            cols = np.array([index[c["node_id"]] for c in cands])
            best = int(cols[int(np.argmax(sims[row, cols]))])
            rows.append(_tag_row(item, order[best], float(sims[row, best]), fp))
        return rows


def _candidates(linked: list[str], tips: list[dict[str, Any]], nodes: dict[str, dict[str, Any]]
                ) -> list[dict[str, Any]]:
    """Leaves a document's question may go to: those it supports, else the leaves below the
    nodes it supports (its topic grew sections from a later document), else every leaf."""
    mine = set(linked)
    own = [t for t in tips if t["node_id"] in mine]
    if own:
        return own
    below = [t for t in tips if mine & set(_ancestors(t["node_id"], nodes))]
    return below or tips


def _ancestors(nid: str, nodes: dict[str, dict[str, Any]]) -> list[str]:
    out = []
    while nid in nodes and nodes[nid]["parent_id"]:
        nid = nodes[nid]["parent_id"]
        out.append(nid)
    return out


def _tag_row(item: dict[str, Any], nid: str, similarity: float, fp: str) -> dict[str, Any]:
    return {"question_id": item["question_id"], "doc_id": item["doc_id"], "node_id": nid,
            "similarity": round(similarity, 4), "fingerprint": fp}
