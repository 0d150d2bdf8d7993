"""P(yes) of a one-word yes/no reply: from the first token's log-probabilities, or the word.

Input: the first generated token's top log-probabilities (``[(token, logprob), ...]``, as the
OpenAI chat API returns them with ``logprobs: true, top_logprobs: k``), or the reply text when
the endpoint returns no log-probabilities. Output: P(yes) in [0, 1] and the method used
(``"logprobs"`` or ``"reply"``), or None when the reply is no yes/no at all.
"""

from __future__ import annotations

import math
from typing import Any, Iterable

# First tokens that mean yes / no. Tokenizers split "Yes" with or without a leading space, and
# a Chinese reply starts with 是 / 否 / 不 (不是, 不支持...).
YES_TOKENS = frozenset({"yes", "Yes", " yes", " Yes", "YES", " YES", "是"})
NO_TOKENS = frozenset({"no", "No", " no", " No", "NO", " NO", "否", "不"})
TOP_LOGPROBS = 10  # yes and no variants are near the top; 10 leaves room for both


def p_yes_from_top(top: Iterable[tuple[str, float]]) -> float | None:
    """Mass of the yes-variants over yes + no variants; None when neither is among ``top``."""
    yes = no = 0.0
    for token, logprob in top:
        if token in YES_TOKENS:
            yes += math.exp(logprob)
        elif token in NO_TOKENS:
            no += math.exp(logprob)
    return yes / (yes + no) if yes + no > 0 else None


def p_yes_from_word(text: str) -> float | None:
    """1.0 for a reply that starts with yes, 0.0 for no, None for anything else."""
    word = text.strip().strip("\"'`*.,!。，！ ").lower()
    for prefix, value in (("yes", 1.0), ("是", 1.0), ("no", 0.0), ("否", 0.0), ("不", 0.0)):
        if word.startswith(prefix) and (len(word) == len(prefix) or not word[len(prefix)].isalpha()
                                        or prefix in "是否不"):
            return value
    return None


def top_logprobs_of(choice: Any) -> list[tuple[str, float]] | None:
    """The first generated token's ``(token, logprob)`` alternatives (with the token itself);
    None when the choice carries no log-probabilities."""
    content = getattr(getattr(choice, "logprobs", None), "content", None)
    if not content:
        return None
    first = content[0]
    top = [(t.token, t.logprob) for t in (first.top_logprobs or [])]
    if first.token not in {t for t, _ in top}:
        top.append((first.token, first.logprob))
    return top


def yes_no_value(choice: Any) -> tuple[dict[str, Any] | None, str | None]:
    """``({"p_yes": p, "method": ...}, None)`` from one chat choice, or ``(None, error)``."""
    top = top_logprobs_of(choice)
    if top is not None:
        p = p_yes_from_top(top)
        if p is not None:
            return {"p_yes": round(p, 6), "method": "logprobs"}, None
    text = getattr(choice.message, "content", None) or ""
    p = p_yes_from_word(text)
    if p is None:
        seen = ", ".join(t for t, _ in (top or [])[:5])
        return None, (f"malformed yes/no reply: {text[:40]!r}"
                      + (f" (top tokens: {seen})" if seen else ""))
    return {"p_yes": p, "method": "reply"}, None
