"""The scripted server's domain-tree replies: a tree made from the headings it was given.

Like a careful model, it keeps the tree it is shown: a heading whose label is already a node under the
same parent (the latest heading one level up) links there; only unseen labels become new nodes,
three levels at most. Each document is linked to its deepest headings' nodes. A pure function of the prompt.
"""

from __future__ import annotations

import re
from typing import Any

_TREE_LINE = re.compile(r"^\[(\w+)\] (.+?) \(level (\d)(?:, parent (\w+))?\):", re.M)
_DOC_LINE = re.compile(r"^\[(D\d+)\] ")
_HEADING = re.compile(r"^( *)- (.+)$")


def is_tree_request(prompt: str) -> bool:
    """Whether ``prompt`` is the domain tree stage's user message."""
    return "<tree>" in prompt and "<documents>" in prompt


def _existing(prompt: str) -> dict[tuple[str, str], str]:
    """(parent id or "", casefolded label) -> node id of the tree in the prompt."""
    tree = prompt.split("<tree>", 1)[1].split("</tree>", 1)[0]
    return {(m.group(4) or "", m.group(2).casefold()): m.group(1)
            for m in _TREE_LINE.finditer(tree)}


def _documents(prompt: str) -> list[tuple[str, list[tuple[int, str]]]]:
    body = prompt.split("<documents>", 1)[1].split("</documents>", 1)[0]
    docs: list[tuple[str, list[tuple[int, str]]]] = []
    for line in body.splitlines():
        if m := _DOC_LINE.match(line):
            docs.append((m.group(1), []))
        elif (h := _HEADING.match(line)) and docs:
            docs[-1][1].append((len(h.group(1)) // 2 + 1, h.group(2).strip()))
    return docs


def tree_reply(prompt: str) -> dict[str, Any]:
    """``{new_nodes, documents}`` for a tree request (see the module docstring)."""
    known, new_nodes, links = _existing(prompt), [], []

    def node(parent: str, label: str) -> str:
        key = (parent, label.casefold())
        if key not in known:
            known[key] = f"n{len(new_nodes) + 1}"
            new_nodes.append({"ref": known[key], "parent": parent, "label": label,
                              "description": f"About {label}: {label}."})
        return known[key]

    for ref, headings in _documents(prompt):
        parents: dict[int, str] = {}  # level -> the latest node of that level
        made: list[tuple[int, str]] = []
        for level, label in headings:
            level = min(level, 3)
            nid = node(parents.get(level - 1, ""), label)
            parents[level] = nid
            made.append((level, nid))
        # the most specific nodes: those no later heading of this document hangs under
        deepest = [n for i, (lv, n) in enumerate(made)
                   if not (i + 1 < len(made) and made[i + 1][0] > lv)]
        links.append({"doc": ref, "nodes": deepest[:8]})
    return {"new_nodes": new_nodes, "documents": links}
