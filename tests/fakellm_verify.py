"""The scripted server's yes/no verifier: P(yes) from the evidence in the request, returned as
the first token's log-probabilities (the OpenAI chat shape), or as the bare word.

A verifier request (``sftforge.verifier``) holds ``<source>``, ``<question>`` and ``<answer>``
blocks, then one check question. P(yes): ``supported`` = share of the answer's content tokens
found in the source; ``answers`` = share of the question's content tokens found in the answer
(an answer to another question shares none); ``self_contained`` = low for a question that leans
on an unnamed subject ("this method", "这种方法"). Faults: ``no_logprobs`` (the endpoint returns
the word only), ``malformed_yes_no`` (neither yes nor no), ``reject_logprobs`` (HTTP 400 naming
the field, as endpoints without log-probabilities answer).
"""

from __future__ import annotations

import math
import re
from typing import Any

from sftforge.verifier.checks import CHECKS
from tests import fakellm_realism as realism

VERIFY_FAULTS = {"no_logprobs", "malformed_yes_no", "reject_logprobs"}
_LEANS = re.compile(r"^\s*(what|how|why|which|who)?\b.*\b(this|these|that|those|it|they)\b"
                    r"\s+(method|approach|technique|attack|defense|one|issue)\b|"
                    r"^(这种|这个|该|它|此)", re.IGNORECASE)


def is_verify_request(body: dict[str, Any]) -> bool:
    """A one-token request that asks one of the verifier's checks."""
    return body.get("max_tokens") == 1 and check_of(body) is not None


def check_of(body: dict[str, Any]) -> str | None:
    """The name of the check the last message asks, or None."""
    text = str((body.get("messages") or [{}])[-1].get("content") or "")
    for name, wording in CHECKS.items():
        if any(text.rstrip().endswith(w) for w in wording.values()):
            return name
    return None


def p_yes(body: dict[str, Any]) -> float:
    """What the scripted verifier believes (see the module docstring)."""
    blocks = realism.tagged(str(body["messages"][-1]["content"]))
    check = check_of(body)
    if check == "supported":
        return 0.05 + 0.9 * realism.share(blocks["answer"], blocks["source"])
    if check == "answers":
        return 0.1 + 0.85 * min(1.0, 2 * realism.share(blocks["question"], blocks["answer"]))
    return 0.15 if _LEANS.search(blocks["question"]) else 0.85


def reply(body: dict[str, Any], kind: str) -> tuple[str, dict[str, Any] | None]:
    """(content, chat ``logprobs``) of one verifier answer under fault ``kind`` ("" = none)."""
    p = min(max(p_yes(body), 1e-4), 1 - 1e-4)
    zh = "是" in str(body["messages"][-1]["content"])[-12:]
    yes, no = ("是", "否") if zh else ("Yes", "No")
    if kind == "malformed_yes_no":
        return "Maybe", _logprobs([("Maybe", 0.9), ("Perhaps", 0.1)])
    word = yes if p >= 0.5 else no
    if kind in ("no_logprobs", "reject_logprobs") or not body.get("logprobs"):
        return word, None
    # a little mass on a variant and on an unrelated token, as real models spread it
    top = [(yes, p * 0.9), (no, (1 - p) * 0.9), (f" {yes.lower()}", p * 0.05),
           (f" {no.lower()}", (1 - p) * 0.05), ("The", 0.05)]
    top.sort(key=lambda t: -t[1])
    return top[0][0], _logprobs(top[: int(body.get("top_logprobs") or 0) or 1])


def _logprobs(top: list[tuple[str, float]]) -> dict[str, Any]:
    entries = [{"token": t, "logprob": math.log(p), "bytes": list(t.encode())} for t, p in top]
    return {"content": [{**entries[0], "top_logprobs": entries}], "refusal": None}
