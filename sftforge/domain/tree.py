"""Pure logic of the domain tree: node ids, ancestors, retiring, leaves, the tree file.

Nodes (``domain_nodes`` rows): ``node_id``, ``parent_id`` ("" at the top), ``label``,
``description``, ``level`` (1-3), ``origin`` (``llm`` | ``pinned``), ``status`` (``active`` |
``retired``). A node id is a hash of its parent id and its normalised label, so the same topic
proposed twice is one node (nodes are made in ``sftforge.domain.skeleton``); an existing node's
id and label never change (a pinned file may edit a pinned node's label and description: the
user's word wins). Which documents support a node
is kept per document (``domain_tree_docs``: doc_id -> node ids, ancestors included); a node no
current document supports is retired, unless pinned.
"""

from __future__ import annotations

import unicodedata
from pathlib import Path
from typing import Any

import yaml

from sftforge.ids import child_id

MAX_LEVEL = 3


def node_id(parent_id: str, label: str) -> str:
    """Stable id of the node ``label`` under ``parent_id`` (case, width and spaces ignored)."""
    norm = " ".join(unicodedata.normalize("NFKC", label).casefold().split())
    return child_id(parent_id or "root", "domain_node", norm)


def with_ancestors(ids: list[str], nodes: dict[str, dict[str, Any]]) -> list[str]:
    """``ids`` (known ones only) and all their ancestors, sorted."""
    out: set[str] = set()
    for nid in ids:
        while nid and nid in nodes and nid not in out:
            out.add(nid)
            nid = nodes[nid]["parent_id"]
    return sorted(out)


def statuses(nodes: dict[str, dict[str, Any]], supported: set[str], pinned_only: bool
             ) -> dict[str, str]:
    """node_id -> ``active`` | ``retired``: pinned nodes stay; others live while a current
    document supports them (and, when the pinned tree is closed, not at all)."""
    out = {}
    for nid, node in nodes.items():
        if node["origin"] == "pinned":
            out[nid] = "active"
        else:
            out[nid] = "active" if nid in supported and not pinned_only else "retired"
    return out


def leaves(nodes: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Active nodes without an active child (where questions are tagged), sorted by id."""
    active = {k: v for k, v in nodes.items() if v["status"] == "active"}
    parents = {v["parent_id"] for v in active.values()}
    return [active[k] for k in sorted(active) if k not in parents]


def path_of(nid: str, nodes: dict[str, dict[str, Any]]) -> str:
    """``Top / Sub / Leaf`` labels of a node."""
    labels = []
    while nid and nid in nodes:
        labels.append(nodes[nid]["label"])
        nid = nodes[nid]["parent_id"]
    return " / ".join(reversed(labels))


class TreeFileError(ValueError):
    """The pinned tree file cannot be used; the message names the file and the node."""


def load_tree_file(path: str, run_id: str = "") -> tuple[list[dict[str, Any]], bool]:
    """Pinned nodes of a YAML tree file and whether the LLM may extend it.

    Format: ``extend: false`` (default: the tree is exactly the file) and ``nodes:``, a list of
    ``{label, description, id (optional: keep an earlier id), children: [...]}``, 3 levels at most.
    """
    file = Path(path).expanduser()
    if not file.is_file():
        raise TreeFileError(f"domain tree file {file} does not exist: fix the path in "
                            "SFTFORGE_DOMAIN_TREE__FILE or remove the setting")
    try:
        data = yaml.safe_load(file.read_text("utf-8")) or {}
    except yaml.YAMLError as exc:
        raise TreeFileError(f"domain tree file {file} is not valid YAML: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("nodes"), list):
        raise TreeFileError(f"domain tree file {file}: expected a mapping with a 'nodes' list "
                            "of {label, description, children}")
    out: list[dict[str, Any]] = []
    _walk(data["nodes"], "", 1, f"{file}: nodes", out, run_id)
    return out, bool(data.get("extend", False))


def _walk(items: list[Any], parent: str, level: int, where: str, out: list[dict[str, Any]],
          run_id: str) -> None:
    for i, item in enumerate(items):
        here = f"{where}[{i}]"
        if not isinstance(item, dict) or not str(item.get("label", "")).strip():
            raise TreeFileError(f"{here}: every node needs a 'label' (and a 'description')")
        if level > MAX_LEVEL:
            raise TreeFileError(f"{here}: the tree has at most {MAX_LEVEL} levels")
        label = " ".join(str(item["label"]).split())
        nid = str(item.get("id") or node_id(parent, label))
        out.append({"node_id": nid, "parent_id": parent, "label": label,
                    "description": " ".join(str(item.get("description", "")).split()),
                    "level": level, "origin": "pinned", "status": "active", "created_run": run_id})
        _walk(item.get("children") or [], nid, level + 1, f"{here}.children", out, run_id)
