"""Chain of thought in an assistant output: a leading ``<think>...</think>`` block.

The block form written is ``<think>\\n{cot}\\n</think>\\n\\n{answer}``, what Qwen3 and
DeepSeek-R1 chat templates produce, and what ``tasks/export.py`` writes.
"""

from __future__ import annotations

import re

_LEADING = re.compile(r"^\s*<think>(.*?)</think>\s*", re.DOTALL | re.IGNORECASE)
_TAG = re.compile(r"</?think>", re.IGNORECASE)


def split_think(text: str) -> tuple[str | None, str]:
    """(cot, answer) of ``text``; cot is None when it has no leading think block."""
    m = _LEADING.match(text)
    if not m:
        return None, text
    return m.group(1).strip(), text[m.end():]


def strip_think(text: str) -> str:
    """``text`` without its leading think block."""
    return split_think(text)[1]


def join_think(cot: str | None, answer: str) -> str:
    """``answer`` preceded by ``cot`` in a think block (``answer`` alone when cot is empty)."""
    # Stray tags inside the CoT would close the block early.
    thought = _TAG.sub("", cot or "").strip()
    return f"<think>\n{thought}\n</think>\n\n{answer}" if thought else answer
