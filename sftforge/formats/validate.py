"""Rows a trainer would drop or misread, per format: ``row_problems(row, fmt) -> [problem]``.

The rules are LLaMA-Factory's converter rules (``spec`` docstring) plus what makes a row useless
to train on although a loader keeps it (an empty prompt or answer, identical chosen/rejected).
An empty list means ``records.to_record`` can read the row.
"""

from __future__ import annotations

from typing import Any

from sftforge.formats.spec import EVEN_ROLES, ODD_ROLES, OPENAI_ROLE_OF, SHAREGPT_ROLE


def _kind(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _text(row: dict[str, Any], key: str, required: bool = True) -> list[str]:
    """Problems of a text field: missing, not a string, or empty."""
    if key not in row or row[key] is None:
        return [f"missing '{key}'"] if required else []
    if not isinstance(row[key], str):
        return [f"'{key}' is {_kind(row[key])}, expected text"]
    if required and not row[key].strip():
        return [f"empty '{key}'"]
    return []


def _history(value: Any) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list):
        return [f"'history' is {_kind(value)}, expected a list of [query, response] pairs"]
    for i, pair in enumerate(value, 1):
        if not (isinstance(pair, list) and len(pair) == 2 and all(isinstance(p, str) for p in pair)):
            return [f"history[{i}] is not a [query, response] pair of texts"]
        if not all(p.strip() for p in pair):
            return [f"history[{i}] has an empty query or response"]
    return []


def _alpaca(row: dict[str, Any], dpo: bool) -> list[str]:
    problems = _text(row, "instruction", required=False) + _text(row, "input", required=False)
    if not problems and not (row.get("instruction") or "").strip() + (row.get("input") or "").strip():
        problems.append("empty prompt ('instruction' and 'input')")
    answers = ("chosen", "rejected") if dpo else ("output",)
    for key in answers:
        problems += _text(row, key)
    if dpo and not problems and row["chosen"].strip() == row["rejected"].strip():
        problems.append("'chosen' equals 'rejected'")
    return problems + _text(row, "system", False) + _history(row.get("history"))


def _turn_order(roles: list[str], pair: bool, where: str) -> list[str]:
    """Alternation and count rules for neutral roles after the leading system message."""
    for i, role in enumerate(roles):
        if role == "system":
            return [f"system message at {where}[{i + 1}]; only the first message may be system"]
        if role not in (ODD_ROLES if i % 2 == 0 else EVEN_ROLES):
            side = "user" if i % 2 == 0 else "assistant"
            return [f"roles do not alternate: {where}[{i + 1}] is {role}, expected {side}"]
    if not roles:
        return [f"empty '{where}'"]
    if not pair and len(roles) % 2:
        return [f"conversation ends on {roles[-1]}, expected an assistant answer last"]
    if pair and len(roles) % 2 == 0:
        return ["preference row ends on an answer; its conversation must end on the user turn"]
    return []


def _turns(row: dict[str, Any], key: str, tags: tuple[str, str], known: dict[str, str]
           ) -> tuple[list[str], list[str]]:
    """(neutral roles after a leading system message, problems) of a message list."""
    turns = row.get(key)
    if not isinstance(turns, list):
        return [], [f"missing '{key}'" if turns is None else f"'{key}' is {_kind(turns)}, expected a list"]
    role_tag, text_tag = tags
    roles: list[str] = []
    for i, t in enumerate(turns, 1):
        if not isinstance(t, dict) or role_tag not in t:
            return [], [f"{key}[{i}] has no '{role_tag}'"]
        if t[role_tag] not in known:
            return [], [f"{key}[{i}] has unknown role {t[role_tag]!r}"]
        text, who = t.get(text_tag), f"{key}[{i}] ({t[role_tag]})"
        if not isinstance(text, str):
            return [], [f"{who} '{text_tag}' is {_kind(text)}, expected text"]
        if not text.strip():
            return [], [f"{who} has an empty '{text_tag}'"]
        roles.append(known[t[role_tag]])
    if roles and roles[0] == "system":
        roles = roles[1:]
    return roles, []


def _answer_obj(row: dict[str, Any], key: str, tags: tuple[str, str]) -> list[str]:
    obj = row.get(key)
    if not isinstance(obj, dict):
        return [f"missing '{key}'" if obj is None else f"'{key}' is {_kind(obj)}, expected a message"]
    return [f"'{key}' has an empty or missing '{tags[1]}'"] if _text(obj, tags[1]) else []


def _sharegpt(row: dict[str, Any], dpo: bool) -> list[str]:
    roles, problems = _turns(row, "conversations", ("from", "value"), SHAREGPT_ROLE)
    problems = problems or _turn_order(roles, dpo, "conversations")
    for key in ("chosen", "rejected") if dpo else ():
        problems += _answer_obj(row, key, ("from", "value"))
    return problems + _text(row, "system", False)


def _messages(row: dict[str, Any]) -> list[str]:
    roles, problems = _turns(row, "messages", ("role", "content"), OPENAI_ROLE_OF)
    # Consecutive tool outputs are one observation turn to LLaMA-Factory.
    roles = [r for i, r in enumerate(roles) if not (r == "observation" and i and roles[i - 1] == r)]
    pair = isinstance(row.get("chosen"), dict)
    problems = problems or _turn_order(roles, pair, "messages")
    if "rejected_response" in row:
        problems += _text(row, "rejected_response")
    if pair:
        problems += _answer_obj(row, "chosen", ("role", "content"))
        problems += _answer_obj(row, "rejected", ("role", "content"))
    return problems


def row_problems(row: Any, fmt: str) -> list[str]:
    """What makes a trainer drop or misread ``row`` of format ``fmt`` (empty when nothing)."""
    if not isinstance(row, dict):
        return [f"row is {_kind(row)}, expected an object"]
    if fmt in ("alpaca", "dpo-alpaca"):
        problems = _alpaca(row, fmt == "dpo-alpaca")
    elif fmt in ("sharegpt", "dpo-sharegpt"):
        problems = _sharegpt(row, fmt == "dpo-sharegpt")
    else:
        problems = _messages(row)
    return problems + _text(row, "cot", False)
