"""domain_tree stage: ``documents`` (toc) + ``chunks`` (heading_path, opening text) ->
``domain_nodes`` + ``domain_tree_docs``: a 2-3 level topic tree of the corpus.

One LLM request per build, and only when documents the tree has not taken in arrive: the prompt
holds the current tree and, per new document, its headings and a few short chunk openings
(truncated, so the request stays small whatever the corpus size). The reply links each new
document to existing nodes first and adds a node only when nothing fits; existing ids and labels
never change. Every build (``select``) re-derives which nodes are active: a node no document of
this build supports is retired (kept, with its id, for when its material returns). A user's
tree file (``DomainTreeSettings.file``) pins nodes; with ``extend: false`` it is the whole tree
and no request is made.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, ClassVar

from pydantic import BaseModel, Field

from sftforge import store
from sftforge.domain.tree import doc_links, load_tree_file, merge_reply, statuses
from sftforge.ids import child_id, sha256_text
from sftforge.llm.prompting import render
from sftforge.stage import BuildContext, LLMStage, StageStats

_ID = Field(max_length=40)


class DomainTreeSettings(BaseModel):
    """The domain tree: an optional pinned YAML file and the prompt's bounds."""

    file: str = Field("", description="YAML tree file to pin/edit the tree (empty: none)")
    max_docs_per_request: int = 40  # more new documents wait for the next build
    headings_per_doc: int = 20
    openings_per_doc: int = 3
    opening_chars: int = 160


class NewNode(BaseModel):
    """A node the reply adds: ``ref`` names it for links, ``parent`` is a node id or a ref."""

    ref: str = _ID
    parent: str = _ID
    label: str = Field(min_length=2, max_length=80)
    description: str = Field(max_length=200)


class DocNodes(BaseModel):
    """The nodes (ids or refs) one document supports."""

    doc: str = Field(max_length=10)
    nodes: list[Annotated[str, Field(max_length=40)]] = Field(max_length=8)


class TreeReply(BaseModel):
    """The reply: new nodes (only where nothing fits) and each document's nodes."""

    new_nodes: list[NewNode] = Field(max_length=30)
    documents: list[DocNodes] = Field(max_length=60)


def read_nodes(db_uri: str) -> dict[str, dict[str, Any]]:
    """node_id -> ``domain_nodes`` row (every node ever made, retired ones included)."""
    return {r["node_id"]: r for r in store.read(db_uri, "domain_nodes").to_dicts()}


def linked_docs(db_uri: str) -> dict[str, list[str]]:
    """doc_id -> node ids it supports, for every document the tree has taken in."""
    rows = store.read(db_uri, "domain_tree_docs").to_dicts()
    return {r["doc_id"]: json.loads(r["node_ids"] or "[]") for r in rows}


def tree_sha(nodes: dict[str, dict[str, Any]]) -> str:
    """Hash of the active tree (ids, labels, descriptions): what question tags depend on."""
    active = sorted((k, v["label"], v["description"]) for k, v in nodes.items()
                    if v["status"] == "active")
    return sha256_text(json.dumps(active, ensure_ascii=False))[:16]


def _doc_material(db_uri: str, doc_ids: list[str], s: DomainTreeSettings) -> list[dict[str, Any]]:
    """Per document: title, headings (toc, else chunk heading paths) and short openings."""
    docs = store.read(db_uri, "documents", columns=["doc_id", "title", "toc"],
                      where=store.sql_in("doc_id", doc_ids)).sort("doc_id").to_dicts()
    chunks = store.read(db_uri, "chunks", columns=["doc_id", "idx", "text", "heading_path"],
                        where=store.sql_in("doc_id", doc_ids)).sort(["doc_id", "idx"])
    out = []
    for i, d in enumerate(docs, 1):
        mine = chunks.filter(chunks["doc_id"] == d["doc_id"]).to_dicts()
        toc = [(int(t[0]), str(t[1])) for t in json.loads(d["toc"] or "[]")]
        if not toc:  # no outline: the chunks' heading paths stand in
            paths = dict.fromkeys(c["heading_path"] for c in mine if c["heading_path"])
            toc = [(p.count(" > ") + 1, p.split(" > ")[-1]) for p in paths]
        step = max(1, len(mine) // max(1, s.openings_per_doc))
        openings = [" ".join(c["text"].split())[:s.opening_chars]
                    for c in mine[::step][:s.openings_per_doc]]
        out.append({"ref": f"D{i}", "doc_id": d["doc_id"], "title": d["title"] or "",
                    "headings": toc[:s.headings_per_doc], "openings": openings})
    return out


class DomainTreeStage(LLMStage):
    """New documents' headings + openings and the current tree -> new ``domain_nodes`` and
    ``domain_tree_docs`` rows (doc_id, node_ids, run_id); ``select`` sets every node's status."""

    name: ClassVar[str] = "domain_tree"
    reads: ClassVar[tuple[str, ...]] = ("documents", "chunks", "domain_nodes", "domain_tree_docs")
    writes: ClassVar[str] = "domain_tree_docs"
    selects: ClassVar[bool] = True
    role: ClassVar[str] = "question"
    prompt: ClassVar[str] = "domain_tree"
    schema: ClassVar[type[BaseModel]] = TreeReply
    key: ClassVar[str] = "revision_id"
    temperature: ClassVar[float | None] = 0.0
    settings: DomainTreeSettings = Field(default_factory=DomainTreeSettings)

    def _pinned(self, ctx: BuildContext) -> tuple[list[dict[str, Any]], bool]:
        return load_tree_file(self.settings.file, ctx.run_id) if self.settings.file else ([], True)

    def inputs(self, ctx: BuildContext) -> list[dict[str, Any]]:
        """One revision request for the documents the tree has not taken in (none: no row)."""
        if not self._pinned(ctx)[1]:
            return []  # a closed pinned tree: nothing to ask
        known = linked_docs(ctx.db_uri)
        new = sorted(d for d in ctx.doc_ids if d not in known)[:self.settings.max_docs_per_request]
        if not new:
            return []
        nodes = read_nodes(ctx.db_uri)
        existing = sorted((v for v in nodes.values() if v["status"] == "active"),
                          key=lambda v: (v["level"], v["label"]))
        return [{"revision_id": child_id("domain_tree", "revision", ",".join(new)),
                 "doc_id": "", "docs": _doc_material(ctx.db_uri, new, self.settings),
                 "existing": existing, "run_id": ctx.run_id, "db_uri": ctx.db_uri}]

    def done(self, ctx: BuildContext, rows: list[dict[str, Any]]) -> set[str]:
        return set()  # a revision's documents leave ``inputs`` once linked

    def format_input(self, row: dict[str, Any]) -> list[dict[str, str]]:
        return render("domain_tree", docs=row["docs"], existing=row["existing"])

    def format_output(self, value: dict[str, Any], row: dict[str, Any],
                      reasoning: str = "") -> list[dict[str, Any]]:
        """``domain_tree_docs`` rows of the request's documents; the new nodes are written
        here (ids are content hashes: writing them again after a crash changes nothing)."""
        db_uri = row["db_uri"]
        nodes = read_nodes(db_uri)
        merged, refs = merge_reply(nodes, value, row["run_id"])
        store.upsert(db_uri, "domain_nodes", [v for k, v in merged.items() if k not in nodes])
        doc_refs = {d["ref"]: d["doc_id"] for d in row["docs"]}
        links = doc_links(value, doc_refs, refs, merged)
        return [{"doc_id": d, "node_ids": json.dumps(ids), "run_id": row["run_id"]}
                for d, ids in sorted(links.items())]

    def check(self, ctx: BuildContext, stats: StageStats) -> None:
        """A failed revision never stops the build: its documents are asked for next build."""

    def select(self, ctx: BuildContext) -> StageStats:
        """Pinned nodes written, then every node active or retired by this build's documents."""
        before = read_nodes(ctx.db_uri)
        nodes = {k: dict(v) for k, v in before.items()}
        pinned, extend = self._pinned(ctx)
        in_file = {p["node_id"] for p in pinned}
        for nid, node in nodes.items():
            if node["origin"] == "pinned" and nid not in in_file:
                node["origin"] = "llm"  # taken out of the file: an ordinary node again
        for p in pinned:
            nodes[p["node_id"]] = {**nodes.get(p["node_id"], {}), **p,
                                   "created_run": nodes.get(p["node_id"], p)["created_run"]}
        links = linked_docs(ctx.db_uri)
        supported = {n for d in ctx.doc_ids for n in links.get(d, [])}
        for nid, status in statuses(nodes, supported, bool(self.settings.file) and not extend
                                    ).items():
            nodes[nid]["status"] = status
        store.upsert(ctx.db_uri, "domain_nodes",
                     [v for k, v in nodes.items() if before.get(k) != v])
        active = sum(v["status"] == "active" for v in nodes.values())
        return StageStats(stage=self.name, items_in=len(nodes), kept=active,
                          extra={"nodes_active": active, "nodes_retired": len(nodes) - active,
                                 "tree_sha": tree_sha(nodes)})
