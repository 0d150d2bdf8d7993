"""Structured replies: the JSON schema a model sees, how a request asks for it (an instruction
in the system message, ``response_format`` per endpoint JSON mode), and how a reply is read back
(a ``<think>`` block split off, JSON repaired and validated by pydantic). The gateway
(``sftforge.llm.gateway``) is the one caller.
"""

from __future__ import annotations

import json
import re
from typing import Any

import json_repair
import pydantic


def wire_schema(schema: type[pydantic.BaseModel]) -> dict[str, Any]:
    """The JSON schema of ``schema`` as a model sees it: pydantic's schema without ``title``
    keys and without the models' docstrings (``description`` of an object schema).

    Both are read by the model (in the prompt, or from ``response_format`` on endpoints that show
    it) and the prompt is paid per token: docstrings are written for the code's readers (the
    prompts say what each field means), titles repeat the property names. Field descriptions
    stay."""
    return _strip_schema(schema.model_json_schema())


def _strip_schema(node: Any) -> Any:
    """``node`` without ``title`` keys and without the ``description`` of object schemas;
    property names are data, never stripped."""
    if isinstance(node, list):
        return [_strip_schema(v) for v in node]
    if not isinstance(node, dict):
        return node
    out = {}
    for key, value in node.items():
        if key == "title" or (key == "description" and "properties" in node):
            continue
        if key in ("properties", "$defs"):
            out[key] = {name: _strip_schema(sub) for name, sub in value.items()}
        else:
            out[key] = _strip_schema(value)
    return out


def schema_instruction(schema: type[pydantic.BaseModel]) -> str:
    """Text appended to the system message: how to answer, then ``JSON schema:`` and the schema."""
    compact = json.dumps(wire_schema(schema), ensure_ascii=False, separators=(",", ":"))
    return (
        "Reply with only one JSON object that validates against the JSON schema below: "
        "no prose before or after it, no Markdown code fences.\n"
        f"JSON schema:\n{compact}"
    )


def with_instruction(messages: list[dict[str, str]],
                     schema: type[pydantic.BaseModel] | None) -> list:
    """Copy of ``messages`` with the schema instruction appended to the (first) system message
    (unchanged for a free-text job)."""
    out = [dict(m) for m in messages]
    if schema is None:
        return out
    note = schema_instruction(schema)
    for msg in out:
        if msg.get("role") == "system":
            msg["content"] = f"{msg.get('content') or ''}\n\n{note}".lstrip()
            return out
    return [{"role": "system", "content": note}, *out]


def response_format(mode: str, schema: type[pydantic.BaseModel]) -> dict | None:
    """The ``response_format`` request field for the endpoint's JSON mode (None = omit)."""
    js, name = wire_schema(schema), re.sub(r"[^A-Za-z0-9_-]", "_", schema.__name__)[:64]
    return {
        "schema_object": {"type": "json_object", "schema": js},  # llama.cpp: grammar-constrained
        "json_schema": {"type": "json_schema", "json_schema": {"name": name, "schema": js}},
        "json_object": {"type": "json_object"},
    }.get(mode)


def split_reasoning(content: str) -> tuple[str, str, str | None]:
    """Split ``content`` into (reasoning, answer, error) around a ``<think>`` block.

    A leading ``<think>...</think>`` is reasoning. Some chat templates put the opening tag in
    the prompt, so a bare ``</think>`` also ends reasoning. An opened block that never closes
    leaves no answer, which is an error.
    """
    text = content.lstrip()
    opened = text.startswith("<think>")
    if not opened and text.startswith(("{", "[", "```")):  # an answer that mentions </think>
        return "", content.strip(), None
    if opened:
        text = text[len("<think>"):]
    if "</think>" in text:
        reasoning, _, answer = text.partition("</think>")
        return reasoning.strip(), answer.strip(), None
    if opened:
        return text.strip(), "", "unclosed think: <think> block never closed, no answer after it"
    return "", content.strip(), None


def parse_json(content: str, schema: type[pydantic.BaseModel]) -> tuple[dict | None, str | None]:
    """Repair, parse and validate ``content``; returns (model_dump, None) or (None, reason)."""
    try:
        obj = json_repair.loads(content)
    except Exception as exc:  # json-repair raises assorted errors on hostile input
        return None, f"invalid json: {type(exc).__name__}"
    if isinstance(obj, list) and len(obj) == 1 and isinstance(obj[0], dict):
        obj = obj[0]  # some models wrap the object in a list
    if not isinstance(obj, dict):
        return None, "invalid json: no JSON object found in the reply"
    try:
        return schema.model_validate(obj).model_dump(mode="json"), None
    except pydantic.ValidationError as err:
        why = "; ".join(f"{'.'.join(map(str, e['loc'])) or '(root)'}: {e['msg']}"
                        for e in err.errors()[:3])
        return None, f"invalid json: {why[:300]}"
