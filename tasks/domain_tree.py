"""domain_tree stage: ``documents`` (title, toc) + ``chunks`` (heading_path, opening text) ->
``domain_nodes`` + ``domain_tree_docs``: a topic tree that describes the corpus.

The tree comes from what the documents say about themselves: each document's title is its topic
node and its main sections are the nodes below (``sftforge.domain.outline``; for a document with
no heading at all, clusters of its chunk embeddings, ``sftforge.domain.clusters``), so every
document gets a node whatever the model says. The model only names and arranges: one request per build
(per 40 new documents), only when documents the tree has not taken in arrive, holding the
current tree and each new document's outline and a few short openings; it gives each document's
topic a short name (kept only when grounded in the document), a description and a parent area
(``sftforge.domain.skeleton``). A failed request leaves the documents their own titles. Existing
ids and labels never change: a new document adds its nodes (revise, not rebuild). Every build
(``select``) re-derives which nodes are active: a node no document of this build supports is
retired (kept, with its id, for when its material returns). A user's tree file
(``DomainTreeSettings.file``) pins nodes; with ``extend: false`` it is the whole tree and no
request is made.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

from pydantic import BaseModel, Field

from sftforge import store
from sftforge.domain.clusters import cluster_sections
from sftforge.domain.outline import doc_outline
from sftforge.domain.skeleton import add_documents
from sftforge.domain.tree import load_tree_file, statuses
from sftforge.embedding.embedders import MULTILINGUAL, get_embedder
from sftforge.ids import child_id, sha256_text
from sftforge.llm.prompting import render
from sftforge.stage import BuildContext, LLMStage, StageStats


class DomainTreeSettings(BaseModel):
    """The domain tree: an optional pinned YAML file and the prompt's bounds."""

    file: str = Field("", description="YAML tree file to pin/edit the tree (empty: none)")
    max_docs_per_request: int = 40  # more new documents go in further requests
    headings_per_doc: int = 20
    openings_per_doc: int = 3
    opening_chars: int = 160
    sections_per_doc: int = Field(8, description="main sections of a document that get a node")
    embedder: str = Field(MULTILINGUAL, description="clusters the chunks of a document without "
                          "headings into sections: use-multilingual | minilm | e5-small")


class TopicName(BaseModel):
    """The model's name for one document's topic, and the broader area it belongs to."""

    doc: str = Field(max_length=10)
    label: str = Field(min_length=2, max_length=80)
    description: str = Field("", max_length=200)
    area: str = Field("", max_length=80)


class TreeReply(BaseModel):
    """The reply: a name (and area) per new document."""

    topics: list[TopicName] = Field(max_length=60)


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


def doc_material(db_uri: str, doc_ids: list[str], s: DomainTreeSettings
                 ) -> list[dict[str, Any]]:
    """Per document (``documents`` + ``chunks``): ref, doc_id, title, headings (toc, else the
    chunks' heading paths), openings, its outline (topic, description, sections) and
    ``material`` (the text a model's name must be grounded in)."""
    docs = store.read(db_uri, "documents", columns=["doc_id", "source", "title", "toc"],
                      where=store.sql_in("doc_id", doc_ids)).sort("doc_id").to_dicts()
    chunks = store.read(db_uri, "chunks", columns=["doc_id", "idx", "text", "heading_path"],
                        where=store.sql_in("doc_id", doc_ids)).sort(["doc_id", "idx"])
    out = []
    for i, d in enumerate(docs, 1):
        mine = chunks.filter(chunks["doc_id"] == d["doc_id"]).to_dicts()
        toc = [[int(t[0]), str(t[1])] for t in json.loads(d["toc"] or "[]")]
        paths = [c["heading_path"] or "" for c in mine]
        outline = doc_outline(d["title"] or "", toc, paths, (d["source"] or "").rsplit(".", 1)[0],
                              s.sections_per_doc)
        heads = [(int(t[0]), t[1]) for t in toc] or [
            (p.count(" > ") + 1, p.split(" > ")[-1]) for p in dict.fromkeys(paths) if p]
        if not heads:  # no structure at all: sections from clusters of its chunks
            texts = [c["text"] for c in mine]
            vectors = get_embedder(s.embedder).embed(texts) if len(texts) >= 4 else None
            outline["sections"] = cluster_sections(texts, vectors, s.sections_per_doc)
        step = max(1, len(mine) // max(1, s.openings_per_doc))
        openings = [" ".join(c["text"].split())[:s.opening_chars]
                    for c in mine[::step][:s.openings_per_doc]]
        # all the document's words: a model's name for its topic must come from them
        material = "\n".join([d["title"] or "", *(h for _, h in heads),
                              *(c["text"] for c in mine)])[:200_000]
        out.append({"ref": f"D{i}", "doc_id": d["doc_id"], "title": d["title"] or "",
                    "headings": heads[:s.headings_per_doc], "openings": openings,
                    "material": material, **outline})
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
        """One naming request per batch of documents the tree has not taken in (none: no row)."""
        if not self._pinned(ctx)[1]:
            return []  # a closed pinned tree: nothing to ask
        known = linked_docs(ctx.db_uri)
        new = sorted(d for d in ctx.doc_ids if d not in known)
        if not new:
            return []
        nodes = read_nodes(ctx.db_uri)
        existing = sorted((v for v in nodes.values() if v["status"] == "active"),
                          key=lambda v: (v["level"], v["label"]))
        size = max(1, self.settings.max_docs_per_request)
        return [{"revision_id": child_id("domain_tree", "revision", ",".join(batch)),
                 "doc_id": "", "docs": doc_material(ctx.db_uri, batch, self.settings),
                 "existing": existing, "run_id": ctx.run_id, "db_uri": ctx.db_uri}
                for batch in (new[i:i + size] for i in range(0, len(new), size))]

    def done(self, ctx: BuildContext, rows: list[dict[str, Any]]) -> set[str]:
        return set()  # a revision's documents leave ``inputs`` once linked

    def format_input(self, row: dict[str, Any]) -> list[dict[str, str]]:
        return render("domain_tree", docs=row["docs"], existing=row["existing"])

    def format_output(self, value: dict[str, Any], row: dict[str, Any],
                      reasoning: str = "") -> list[dict[str, Any]]:
        """``domain_tree_docs`` rows of the request's documents; the new nodes are written
        here (ids are content hashes: writing them again after a crash changes nothing)."""
        return _link(row["db_uri"], row["docs"], value, row["run_id"])

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
        if extend:  # documents a failed request left out still get their own nodes
            _link_unnamed(ctx, self.settings)
            nodes.update({k: v for k, v in read_nodes(ctx.db_uri).items() if k not in nodes})
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


def _link(db_uri: str, docs: list[dict[str, Any]], reply: dict[str, Any] | None, run_id: str
          ) -> list[dict[str, Any]]:
    """Nodes of ``docs`` (named by ``reply`` when given) written to ``domain_nodes``; returns
    their ``domain_tree_docs`` rows."""
    nodes = read_nodes(db_uri)
    merged, links = add_documents(nodes, docs, reply, run_id)
    store.upsert(db_uri, "domain_nodes", [v for k, v in merged.items() if k not in nodes])
    return [{"doc_id": d, "node_ids": json.dumps(ids), "run_id": run_id}
            for d, ids in sorted(links.items())]


def _link_unnamed(ctx: BuildContext, s: DomainTreeSettings) -> None:
    """This build's documents the tree has not taken in (their request failed): linked to the
    nodes of their own outline, so no document is without its topic."""
    known = linked_docs(ctx.db_uri)
    new = sorted(d for d in ctx.doc_ids if d not in known)
    if new:
        rows = _link(ctx.db_uri, doc_material(ctx.db_uri, new, s), None, ctx.run_id)
        store.upsert(ctx.db_uri, "domain_tree_docs", rows)
