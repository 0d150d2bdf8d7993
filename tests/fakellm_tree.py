"""The scripted server's domain-tree replies: each document's topic named from its title.

Like a careful model, it names each new document's topic with the document's own title (its line
in the prompt's ``<documents>``) and gives it no area. A pure function of the prompt.
"""

from __future__ import annotations

import re
from typing import Any

_DOC_LINE = re.compile(r"^\[(D\d+)\] ")


def is_tree_request(prompt: str) -> bool:
    """Whether ``prompt`` is the domain tree stage's user message."""
    return "<tree>" in prompt and "<documents>" in prompt


def tree_reply(prompt: str) -> dict[str, Any]:
    """``{topics: [{doc, label, description, area}]}`` for a tree request."""
    body = prompt.split("<documents>", 1)[1].split("</documents>", 1)[0]
    topics = []
    for line in body.splitlines():
        if m := _DOC_LINE.match(line):
            title = line[m.end():].strip()
            topics.append({"doc": m.group(1), "label": title, "area": "",
                           "description": f"About {title}."})
    return {"topics": topics}
