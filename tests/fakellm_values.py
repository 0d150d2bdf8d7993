"""Schema-valid reply values of the scripted server (``tests.fakellm``): built from the
sentences of the request's tagged passage, so different prompts get different answers."""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

# A "." before a non-space (e-mail, IP, version, "e.g.") does not end a sentence.
_SENTENCE = re.compile(r"(?:[^.!?。！？\n]|[.!?](?=[^\s.!?]))+[.!?。！？]?")
_TAGGED = re.compile(r"<([A-Za-z_][\w-]*)>(.*?)</\1>", re.S)
_CJK = re.compile(r"[\u3400-\u9fff]")
# Self-contained, like the questions the stage asks for (no "the text" / "文中").
_QUESTION_TEMPLATES = (
    "What matters about {}?", "Why is it true that {}?",
    "How would you explain {}?", "What can be concluded from {}?",
    "Which details support {}?",
)
_QUESTION_TEMPLATES_ZH = ("关于“{}”，应该怎么理解？", "为什么说“{}”？", "如何理解“{}”？")
# Booleans named like these default to False (a judge's "addresses_reviewer" should not fire).
_FALSE_HINTS = ("suspect", "injection", "reviewer", "refus", "error", "toxic", "pii", "harm", "unsafe")


def _hash(*parts: str) -> int:
    return int(hashlib.sha256("|".join(parts).encode("utf-8")).hexdigest()[:12], 16)


def _text_of(body: dict[str, Any]) -> str:
    return "\n".join(str(m.get("content") or "") for m in body.get("messages", []))


def _last_user(body: dict[str, Any]) -> str:
    """The user message the reply is about: the last one before any assistant turn, so a
    re-ask ("your previous reply could not be used...") is answered from the original task,
    as a real model does, not from the complaint."""
    messages = body.get("messages", [])
    turns = [m.get("role") for m in messages]
    first_reply = turns.index("assistant") if "assistant" in turns else len(messages)
    users = [m for m in messages[:first_reply] if m.get("role") == "user"]
    return str(users[-1].get("content") or "") if users else _text_of(body)


def schema_of_request(body: dict[str, Any]) -> dict[str, Any] | None:
    """The JSON schema a request asks for: response_format first, else the prompt's line."""
    fmt = body.get("response_format") or {}
    if isinstance(fmt.get("schema"), dict):
        return fmt["schema"]
    if isinstance((fmt.get("json_schema") or {}).get("schema"), dict):
        return fmt["json_schema"]["schema"]
    lines = _text_of(body).splitlines()
    for i, line in enumerate(lines[:-1]):
        if line.strip() == "JSON schema:":
            try:
                return json.loads(lines[i + 1])
            except json.JSONDecodeError:
                return None
    return None


class ValueMaker:
    """Builds a value valid for a JSON schema from the sentences of a prompt."""

    def __init__(self, prompt: str, schema: dict[str, Any]) -> None:
        # Prompts wrap the source text in a tag (<passage>...</passage>): the longest such
        # block is the content; the instructions around it are not.
        blocks = [m.group(2) for m in _TAGGED.finditer(prompt)]
        source = max(blocks, key=len) if blocks else prompt
        keep = [s.strip() for s in _SENTENCE.findall(source)]
        # Prompt boilerplate about the output format is not content.
        keep = [s for s in keep if len(s) > 3 and "json" not in s.lower()]
        self.sentences = keep or [prompt.strip()[:200] or "The text is empty."]
        self.prompt, self.defs = prompt, schema.get("$defs", {})

    def make(self, schema: dict[str, Any], path: str = "", name: str = "") -> Any:
        """A value for ``schema`` at JSON ``path`` (field ``name`` gives hints)."""
        if "$ref" in schema:
            return self.make(self.defs[schema["$ref"].split("/")[-1]], path, name)
        for key in ("anyOf", "oneOf", "allOf"):
            if key in schema:
                options = [s for s in schema[key] if s.get("type") != "null"] or schema[key]
                return self.make(options[0], path, name)
        if "const" in schema:
            return schema["const"]
        if "enum" in schema:
            return schema["enum"][_hash(self.prompt, path) % len(schema["enum"])]
        kind = schema.get("type", "object" if "properties" in schema else "string")
        if isinstance(kind, list):
            kind = next((k for k in kind if k != "null"), "null")
        maker = getattr(self, f"_{kind}", None)
        return maker(schema, path, name) if maker else None

    def _object(self, schema: dict[str, Any], path: str, name: str) -> dict[str, Any]:
        props = schema.get("properties", {})
        return {k: self.make(v, f"{path}.{k}", k) for k, v in props.items()}

    def _array(self, schema: dict[str, Any], path: str, name: str) -> list[Any]:
        lo, hi = schema.get("minItems", 0), schema.get("maxItems")
        n = lo if lo == hi else (lo or 1)
        n = min(n, hi) if hi is not None else n
        item_name = name[:-1] if name.endswith("s") else name
        return [self.make(schema.get("items", {}), f"{path}[{i}]", item_name) for i in range(n)]

    def _integer(self, schema: dict[str, Any], path: str, name: str) -> int:
        return int(round(self._number(schema, path, name, step=1)))

    def _number(self, schema: dict[str, Any], path: str, name: str, step: float = 0.0) -> float:
        lo, hi = schema.get("minimum"), schema.get("maximum")
        if lo is None and "exclusiveMinimum" in schema:
            lo = schema["exclusiveMinimum"] + (step or 1e-3)
        if hi is None and "exclusiveMaximum" in schema:
            hi = schema["exclusiveMaximum"] - (step or 1e-3)
        if lo is not None and hi is not None:
            return lo + round(0.78 * (hi - lo), 3)  # high but not the max: 8 of 1-10
        if lo is not None or hi is not None:
            return lo if lo is not None else min(hi, 1)
        return 1

    def _boolean(self, schema: dict[str, Any], path: str, name: str) -> bool:
        return not any(h in name.lower() for h in _FALSE_HINTS)

    def _null(self, schema: dict[str, Any], path: str, name: str) -> None:
        return None

    def _string(self, schema: dict[str, Any], path: str, name: str) -> str:
        # Items of one array get consecutive sentences (and templates), so they differ.
        indexes = re.findall(r"\[(\d+)\]", path)
        index = int(indexes[-1]) if indexes else 0
        pick = (_hash(self.prompt, re.sub(r"\[\d+\]", "", path)) + index) % len(self.sentences)
        sentence = self.sentences[pick]
        lname = name.lower()
        if "question" in lname or lname in ("instruction", "query"):
            text = self._question(sentence, index)
        elif "answer" in lname or lname in ("output", "response"):
            text = " ".join(self._answer_sentences(pick))
        else:
            text = sentence
        return self._fit(text, schema)

    def _answer_sentences(self, pick: int) -> list[str]:
        """Two consecutive sentences from ``pick``; a heading line never ends an answer (a model
        does not close an answer with the next section's title; clean drops that as
        ``truncated``), the sentence after it is taken instead."""
        n = len(self.sentences)
        second = next((self.sentences[(pick + k) % n] for k in range(1, n + 1)
                       if not self.sentences[(pick + k) % n].startswith("#")),
                      self.sentences[(pick + 1) % n])
        return [self.sentences[pick], second] if n > 1 else [self.sentences[pick]] * 2

    def _question(self, sentence: str, index: int) -> str:
        topic = sentence.rstrip(".!?。！？")
        if _CJK.search(sentence):
            return _QUESTION_TEMPLATES_ZH[index % len(_QUESTION_TEMPLATES_ZH)].format(topic[:30])
        topic = " ".join(topic.split()[:10])
        if topic[1:2].islower():  # "Prepared" -> "prepared", but keep "SQL", "WAFs"
            topic = topic[:1].lower() + topic[1:]
        return _QUESTION_TEMPLATES[index % len(_QUESTION_TEMPLATES)].format(topic)

    @staticmethod
    def _fit(text: str, schema: dict[str, Any]) -> str:
        lo, hi = schema.get("minLength", 0), schema.get("maxLength")
        text = text or "text"
        while len(text) < lo:
            text = f"{text} {text}"
        return text[:hi] if hi is not None else text


def default_content(body: dict[str, Any]) -> str:
    """The default reply: schema-valid JSON derived from the last user message."""
    schema = schema_of_request(body)
    prompt = _last_user(body)
    if schema is None:
        return ValueMaker(prompt, {}).sentences[0]
    return json.dumps(cite_answer(ValueMaker(prompt, schema).make(schema), schema),
                      ensure_ascii=False)


def cite_answer(value: Any, schema: dict[str, Any] | None) -> Any:
    """An answer's citations quote its own first sentence (cut to the schema's quote length),
    as a grounded answer's do: a quote picked apart from the answer would be no evidence for it
    (clean drops that as ``heading_citation``)."""
    if isinstance(value, dict) and isinstance(value.get("answer"), str) \
            and isinstance(value.get("citations"), list) and value["citations"] \
            and all(isinstance(c, str) for c in value["citations"]):
        first = _SENTENCE.search(value["answer"])
        quote = first.group().strip() if first else value["answer"]
        items = ((schema or {}).get("properties", {}).get("citations") or {}).get("items") or {}
        value["citations"] = [quote[:items.get("maxLength", len(quote))]]
    if isinstance(value, dict) and isinstance(value.get("pairs"), list):  # per-chunk QA pairs
        defs = (schema or {}).get("$defs", {}).get("QAPair", {}).get("properties", {})
        limit = (defs.get("quote") or {}).get("maxLength", 240)
        for pair in value["pairs"]:
            if isinstance(pair, dict) and isinstance(pair.get("quote"), str) \
                    and isinstance(pair.get("answer"), str):
                first = _SENTENCE.search(pair["answer"])
                pair["quote"] = (first.group().strip() if first else pair["answer"])[:limit]
    return value
