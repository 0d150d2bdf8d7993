"""Trainer rows <-> the neutral :class:`Record`, for every format in ``spec.FORMATS``.

Input rows are assumed valid (``validate.row_problems`` found nothing); anything a format cannot
hold raises :class:`FormatError` rather than being dropped quietly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from sftforge.formats.cot import join_think, split_think, strip_think
from sftforge.formats.spec import (
    OPENAI_ROLE_OF, OPENAI_TAG, SHAREGPT_ROLE, SHAREGPT_TAG, FormatError,
)

CotMode = Literal["keep", "strip", "column"]
# Columns a format reads; any other column of a row travels along in ``Record.extra``.
FORMAT_COLUMNS = {
    "alpaca": {"instruction", "input", "output", "system", "history", "cot"},
    "dpo-alpaca": {"instruction", "input", "chosen", "rejected", "system", "history", "cot"},
    "sharegpt": {"conversations", "system", "cot"},
    "dpo-sharegpt": {"conversations", "chosen", "rejected", "system", "cot"},
    "messages": {"messages", "system", "cot", "chosen", "rejected", "rejected_response"},
    "swift": {"messages", "system", "cot", "rejected_response"},
}


@dataclass
class Record:
    """One sample, whatever the file format.

    ``messages``: [{role, content}] with roles user/assistant/function_call/observation, no
    system (that is ``system``, "" when none). A preference pair ends on a user turn and has
    ``chosen``/``rejected`` answers. ``cot``: the final answer's reasoning when it came in a
    ``cot`` column (inline ``<think>`` blocks stay inside the content). ``extra``: other columns.
    """

    messages: list[dict[str, str]]
    system: str = ""
    chosen: str | None = None
    rejected: str | None = None
    cot: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def is_pair(self) -> bool:
        return self.chosen is not None


def _alpaca_in(row: dict[str, Any], rec: Record) -> None:
    for query, response in row.get("history") or []:
        rec.messages += [{"role": "user", "content": query},
                         {"role": "assistant", "content": response}]
    prompt = "\n".join(p for p in (row.get("instruction"), row.get("input")) if p)
    rec.messages.append({"role": "user", "content": prompt})
    if "chosen" in row:
        rec.chosen, rec.rejected = row["chosen"], row["rejected"]
    else:
        rec.messages.append({"role": "assistant", "content": row["output"]})


def _sharegpt_in(row: dict[str, Any], rec: Record) -> None:
    turns = list(row["conversations"])
    if turns and turns[0]["from"] == "system":
        rec.system = turns.pop(0)["value"]
    rec.messages = [{"role": SHAREGPT_ROLE[t["from"]], "content": t["value"]} for t in turns]
    if "chosen" in row:
        rec.chosen, rec.rejected = row["chosen"]["value"], row["rejected"]["value"]


def _messages_in(row: dict[str, Any], rec: Record) -> None:
    turns = list(row["messages"])
    if turns and turns[0]["role"] == "system":
        rec.system = turns.pop(0)["content"]
    rec.messages = [{"role": OPENAI_ROLE_OF[t["role"]], "content": t["content"]} for t in turns]
    if row.get("rejected_response") is not None:  # ms-swift: the last answer is the chosen one
        rec.chosen, rec.rejected = rec.messages.pop()["content"], row["rejected_response"]
    elif isinstance(row.get("chosen"), dict):  # LLaMA-Factory's OpenAI ranking form
        rec.chosen, rec.rejected = row["chosen"]["content"], row["rejected"]["content"]


_READERS = {"alpaca": _alpaca_in, "dpo-alpaca": _alpaca_in, "sharegpt": _sharegpt_in,
            "dpo-sharegpt": _sharegpt_in, "messages": _messages_in, "swift": _messages_in}


def to_record(row: dict[str, Any], fmt: str) -> Record:
    """The neutral record of a valid ``fmt`` row."""
    rec = Record(messages=[], system=row.get("system") or "", cot=row.get("cot") or None)
    _READERS[fmt](row, rec)
    rec.extra = {k: v for k, v in row.items() if k not in FORMAT_COLUMNS[fmt]}
    return rec


def apply_cot(rec: Record, mode: CotMode) -> Record:
    """A copy of ``rec`` with the final answer's CoT inline (keep), gone (strip) or in ``cot``."""
    msgs = [dict(m) for m in rec.messages]
    answer_at = len(msgs) - 1 if msgs and msgs[-1]["role"] == "assistant" else None
    out = Record(msgs, rec.system, rec.chosen, rec.rejected, None, dict(rec.extra))
    if mode == "strip":
        for m in msgs:
            if m["role"] == "assistant":
                m["content"] = strip_think(m["content"])
        out.chosen = strip_think(rec.chosen) if rec.chosen is not None else None
        out.rejected = strip_think(rec.rejected) if rec.rejected is not None else None
    elif mode == "keep" and rec.cot:
        if answer_at is not None:
            msgs[answer_at]["content"] = join_think(rec.cot, msgs[answer_at]["content"])
        elif rec.chosen is not None:
            out.chosen = join_think(rec.cot, rec.chosen)
    elif mode == "column" and answer_at is not None:
        inline, msgs[answer_at]["content"] = split_think(msgs[answer_at]["content"])
        out.cot = rec.cot or inline
    elif mode == "column":
        out.cot = rec.cot
    return out


def _require(ok: bool, fmt: str, why: str) -> None:
    if not ok:
        raise FormatError(f"{fmt} cannot hold this row: {why}")


def _pairs(rec: Record, fmt: str) -> tuple[list[list[str]], str]:
    """(history pairs, final prompt) of a record made only of user/assistant turns."""
    roles = [m["role"] for m in rec.messages]
    _require(set(roles) <= {"user", "assistant"}, fmt, "it has tool turns (use sharegpt/messages)")
    body = rec.messages if rec.is_pair else rec.messages[:-1]
    history = [[body[i]["content"], body[i + 1]["content"]] for i in range(0, len(body) - 1, 2)]
    return history, body[-1]["content"]


def _alpaca_out(rec: Record, fmt: str) -> dict[str, Any]:
    history, prompt = _pairs(rec, fmt)
    row: dict[str, Any] = {"instruction": prompt, "input": ""}
    if rec.is_pair:
        row.update(chosen=rec.chosen, rejected=rec.rejected)
    else:
        row["output"] = rec.messages[-1]["content"]
    if history:
        row["history"] = history
    return row


def _sharegpt_out(rec: Record, fmt: str) -> dict[str, Any]:
    conv = [{"from": SHAREGPT_TAG[m["role"]], "value": m["content"]} for m in rec.messages]
    row: dict[str, Any] = {"conversations": conv}
    if rec.is_pair:
        row["chosen"] = {"from": "gpt", "value": rec.chosen}
        row["rejected"] = {"from": "gpt", "value": rec.rejected}
    return row


def _messages_out(rec: Record, fmt: str) -> dict[str, Any]:
    head = [{"role": "system", "content": rec.system}] if rec.system else []
    msgs = head + [{"role": OPENAI_TAG[m["role"]], "content": m["content"]} for m in rec.messages]
    row: dict[str, Any] = {"messages": msgs}
    if rec.is_pair:
        msgs.append({"role": "assistant", "content": rec.chosen})
        row["rejected_response"] = rec.rejected
    return row


_WRITERS = {"alpaca": _alpaca_out, "dpo-alpaca": _alpaca_out, "sharegpt": _sharegpt_out,
            "dpo-sharegpt": _sharegpt_out, "messages": _messages_out, "swift": _messages_out}


def from_record(rec: Record, fmt: str, cot: CotMode = "keep") -> dict[str, Any]:
    """The ``fmt`` row of ``rec``; preference pairs only go to dpo-* and swift, and back."""
    dpo = fmt.startswith("dpo-")
    if rec.is_pair and not (dpo or fmt == "swift"):
        raise FormatError(f"a preference pair (chosen/rejected) cannot be written as {fmt}; "
                          "use swift, dpo-alpaca or dpo-sharegpt")
    if dpo and not rec.is_pair:
        raise FormatError(f"{fmt} needs chosen/rejected answers; this row has one answer")
    rec = apply_cot(rec, cot)
    row = _WRITERS[fmt](rec, fmt)
    if rec.system and fmt not in ("messages", "swift"):
        row["system"] = rec.system
    if rec.cot:
        row["cot"] = rec.cot
    return {**row, **{k: v for k, v in rec.extra.items() if k not in row}}
