"""Optional LLM check for chunks the selection rules cannot decide: one short call per chunk.

A plain declaration for the stage machinery: ``needs_check`` picks the chunks, ``check_job``
builds the ``LLMJob`` (cached by the gateway like any other request), ``apply_verdict`` turns
the validated answer into the new ``chunk_selection`` fields. Off by default
(``ChunkSelectionSettings.llm_check``): on the embedded CPU model a call costs 30-60 s.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from sftforge.ids import fingerprint
from sftforge.llm.gateway import LLMJob
from sftforge.llm.prompting import prompt_sha, render
from sftforge.chunk_kinds import Kind

# Rules that rest on wording alone (no title, no layout) are the ones worth a second opinion.
_WORDING = ("thanks/funding wording", "licence wording", "biography wording")
MAX_CHARS = 1500  # the start of a chunk says what it is; keeps the call short


class ChunkVerdict(BaseModel):
    """The LLM's answer about one chunk."""

    kind: Kind
    substantive: bool


def needs_check(kind: str, substance: float, reason: str, min_substance: float,
                margin: float = 0.1) -> bool:
    """True when the rules were unsure: a body chunk whose substance is within ``margin`` of
    the threshold, or a non-body kind found by wording alone."""
    if kind == "body":
        return abs(substance - min_substance) <= margin
    return any(w in reason for w in _WORDING)


def check_job(chunk: dict[str, Any], rule_reason: str) -> LLMJob:
    """The request for one ``chunks`` row (chunk_id, source, text, heading_path, pages)."""
    messages = render("select_chunks", source=chunk["source"], text=chunk["text"][:MAX_CHARS],
                      heading_path=chunk.get("heading_path", ""), rule_reason=rule_reason,
                      pages=f"{chunk['page_start']}-{chunk['page_end']}")
    return LLMJob(item_id=chunk["chunk_id"], messages=messages, schema=ChunkVerdict,
                  max_tokens=60, temperature=0.0)


def check_fingerprint(model: str) -> str:
    """Fingerprint of the check's answers: prompt and model."""
    return fingerprint("select_chunks_llm", prompt=prompt_sha("select_chunks"), model=model)


def apply_verdict(row: dict[str, Any], verdict: dict[str, Any],
                  keep_kinds: list[str]) -> dict[str, Any]:
    """The ``chunk_selection`` row after the check: the LLM's kind, selected when substantive
    and of a kept kind; the rules' reason stays in the new reason."""
    kind = verdict["kind"]
    selected = bool(verdict["substantive"]) and (kind == "body" or kind in keep_kinds)
    key = "body" if selected and kind == "body" else kind if kind != "body" else "low_substance"
    return {**row, "kind": kind, "selected": selected,
            "reason": f"{key}: LLM check (rules said: {row['reason']})"}
