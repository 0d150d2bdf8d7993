"""The domain tree built from documents' outlines, the model naming and arranging only.

Input: the current nodes (``domain_nodes`` rows by id), per new document its outline
(``sftforge.domain.outline.doc_outline`` plus ``ref``, ``doc_id`` and ``material``, the text the
model saw) and the model's reply ``{topics: [{doc, label, description, area}]}`` (or none when
the request failed). Output: the nodes with the new ones added and doc_id -> node ids (ancestors
included) for ``domain_tree_docs``.

Every document gets its topic node, whatever the reply: the model's ``label`` replaces the
outline's topic only when it is grounded in the document (no invented topic), a document the
reply leaves out keeps its title. Two documents the model names alike under the same area share
one node, and an area named twice ("Security", "Web Security") is one (near-synonyms merged).
``area`` is a broader parent: an existing top-level node id or a new label. Below the topic
come the document's main sections, deterministic.
"""

from __future__ import annotations

from typing import Any

from sftforge.domain.outline import grounded, norm
from sftforge.domain.tree import MAX_LEVEL, node_id, with_ancestors


def _node(nid: str, parent: str, label: str, description: str, level: int, run_id: str
          ) -> dict[str, Any]:
    return {"node_id": nid, "parent_id": parent, "label": label,
            "description": " ".join(description.split())[:200], "level": level,
            "origin": "llm", "status": "active", "created_run": run_id}


def _area(area: str, topic: str, nodes: dict[str, dict[str, Any]], run_id: str) -> str:
    """Node id of the parent area the model gave ("" for none); created when new. An area
    named like the topic itself, or an existing node below the top, is no area."""
    area = " ".join(area.split())
    if not area or norm(area) == norm(topic):
        return ""
    if area in nodes:
        return area if nodes[area]["level"] == 1 else ""
    nid = node_id("", area)
    if nid not in nodes:
        nodes[nid] = _node(nid, "", area, f"Area of: {topic}", 1, run_id)
    return nid


def _words(label: str) -> frozenset[str]:
    return frozenset(norm(label).replace("-", " ").split())


def tidy_areas(areas: list[str], existing: list[str]) -> dict[str, str]:
    """area label -> the label to use: a small model names one field twice ("Security", "Web
    Security"); an area whose words are all in another area of the reply, or of an existing
    top-level node, is that one (existing nodes first, then the most used, then the longest)."""
    count = {a: areas.count(a) for a in areas if a.strip()}
    ranked = [*existing, *sorted(count, key=lambda a: (-count[a], -len(_words(a)), a))]
    out = {}
    for area in count:
        words = _words(area)
        out[area] = next((r for r in ranked if words <= _words(r)), area)
    return out


def _topic_name(doc: dict[str, Any], named: dict[str, Any] | None) -> tuple[str, str, str]:
    """(label, description, area) of a document's topic: the model's when grounded."""
    label = " ".join(str((named or {}).get("label", "")).split())
    if not label or not grounded(label, doc["topic"], doc["material"]):
        label = doc["topic"]
    description = " ".join(str((named or {}).get("description", "")).split())
    return label, description or doc["description"], str((named or {}).get("area", ""))


def add_documents(nodes: dict[str, dict[str, Any]], docs: list[dict[str, Any]],
                  reply: dict[str, Any] | None, run_id: str
                  ) -> tuple[dict[str, dict[str, Any]], dict[str, list[str]]]:
    """(nodes with each document's topic and sections added, doc_id -> linked node ids).

    Existing nodes are never changed: a topic or section that exists is linked as it is.
    """
    out = dict(nodes)
    named = {str(t.get("doc", "")).strip(): t for t in (reply or {}).get("topics", [])}
    tops = [v["label"] for v in nodes.values() if v["level"] == 1 and v["status"] == "active"]
    areas = tidy_areas([" ".join(str(t.get("area", "")).split()) for t in named.values()
                        if str(t.get("area", "")) not in nodes], tops)
    links: dict[str, list[str]] = {}
    for doc in docs:
        label, description, area = _topic_name(doc, named.get(doc["ref"]))
        area = areas.get(" ".join(area.split()), area)
        parent = _area(area, label, out, run_id)
        level = out[parent]["level"] + 1 if parent else 1
        topic = node_id(parent, label)
        out.setdefault(topic, _node(topic, parent, label, description, level, run_id))
        mine = [topic]
        if out[topic]["level"] < MAX_LEVEL:
            for section in doc["sections"]:
                sid = node_id(topic, section["label"])
                out.setdefault(sid, _node(sid, topic, section["label"],
                                          section["description"] or section["label"],
                                          out[topic]["level"] + 1, run_id))
                mine.append(sid)
        links[doc["doc_id"]] = with_ancestors(mine, out)
    return out, links


def heading_match(heading_path: str, candidates: list[dict[str, Any]]) -> str | None:
    """The candidate leaf a chunk's heading path ("Title > Section > Sub") names: the only
    candidate, else the one whose label is a heading of the path (deepest heading first);
    None when that is ambiguous (left to similarity)."""
    if len(candidates) == 1:
        return candidates[0]["node_id"]
    by_label: dict[str, list[str]] = {}
    for c in candidates:
        by_label.setdefault(norm(c["label"]), []).append(c["node_id"])
    for part in reversed([norm(p) for p in heading_path.split(" > ") if p.strip()]):
        if len(hits := by_label.get(part, [])) == 1:
            return hits[0]
    return None
