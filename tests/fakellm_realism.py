"""What makes the scripted server behave like a real model: an evidence-scoring judge, answers
that are right, wrong, off-topic or in the wrong language, and replies that parse but break the
schema. ``tests.fakellm.FakeLLM`` switches these on per test (attributes and ``add_fault``).

Everything here is a pure function of the request body (plus, for ``other_chunk``, the passages
the server saw before), so a test can know the outcome from its inputs.
"""

from __future__ import annotations

import copy
import json
import re
from typing import Any

_TAGGED = re.compile(r"<([A-Za-z_][\w-]*)>(.*?)</\1>", re.S)
# A "." before a non-space (e-mail, IP, version, "e.g.") does not end a sentence.
_SENTENCE = re.compile(r"(?:[^.!?。！？\n]|[.!?](?=[^\s.!?]))+[.!?。！？]?")
_WORD = re.compile(r"[a-z0-9]+")
_CJK = re.compile(r"[\u3400-\u9fff]")
# Words that carry no evidence: English function words and the question templates' own words
# (so "What matters about X?" is judged on X), and the Chinese templates' characters.
_STOP = set(
    "the a an and or of to in on for with by is are was be been it its this that these those "
    "as at from into than then there their they them what which who why how when where would "
    "can could should does do did you your matters true explain concluded details support "
    "not no but if so also only about".split()) | set("关于应该怎么理解为什么说如何的是了在和与")
# A judge notices text that addresses it, however it is phrased (the pipeline's own regex in
# tasks/judge.py knows fewer phrasings on purpose: tests use that gap to see the judge's flag).
_ADDRESSES_REVIEWER = re.compile(
    r"\b(?:scores?|scoring|rubric|reviewers?|graders?|ignore|full marks|top marks?|highest mark)\b"
    r"|满分|最高分|打分|评分|评审|忽略", re.I)

INVENTED = {
    "en": ("Purple quantum lanterns reroute every kettle through Saturn at midnight. "
           "Lighthouse keepers therefore bake violins on Tuesdays."),
    "zh": "紫色量子灯笼每晚把水壶绕道土星。灯塔看守人因此每逢周二烘烤小提琴。",
}
WRONG_LANGUAGE = {"en": "答案见原文，这里不再重复。", "zh": "The answer is given above and is not repeated here."}
ANSWER_FAULTS = {"invented", "invented_tail", "off_topic", "wrong_language", "other_chunk"}
SCHEMA_FAULTS = {"wrong_count", "out_of_range", "missing_field"}


def tagged(prompt: str) -> dict[str, str]:
    """``<tag>text</tag>`` blocks of a prompt by tag name (stripped)."""
    return {m.group(1): m.group(2).strip() for m in _TAGGED.finditer(prompt)}


def evidence(text: str) -> set[str]:
    """Content tokens of ``text``: lower-case English words (3+ letters) and CJK characters."""
    words = {w for w in _WORD.findall(text.lower()) if len(w) >= 3}
    return (words | set(_CJK.findall(text))) - _STOP


def share(part: str, whole: str) -> float:
    """Share of ``part``'s content tokens that also occur in ``whole`` (0 when it has none)."""
    mine = evidence(part)
    return len(mine & evidence(whole)) / len(mine) if mine else 0.0


def scale(x: float) -> int:
    """0..1 -> 1..10."""
    return 1 + round(9 * x)


def lang_of(text: str) -> str:
    return "zh" if len(_CJK.findall(text)) * 2 > len(_WORD.findall(text)) else "en"


def sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE.findall(text) if len(s.strip()) > 3]


# ------------------------------------------------------------------ the judge

def is_judge_request(prompt: str) -> bool:
    blocks = tagged(prompt)
    return {"source", "question", "answer"} <= set(blocks)


def evidence_verdict(prompt: str) -> dict[str, Any]:
    """Scores a judge would give by the evidence in the prompt's ``<source>``, ``<question>``
    and ``<answer>`` blocks: faithfulness = answer tokens found in the source, relevance =
    question tokens found in the answer (completeness follows it: an answer to another
    question completes nothing), clarity 9 for a question that ends in a question mark else 5;
    ``addresses_reviewer`` when any block addresses the reviewer."""
    b = tagged(prompt)
    faithfulness = scale(share(b["answer"], b["source"]))
    relevance = scale(share(b["question"], b["answer"]))
    clarity = 9 if b["question"].rstrip().endswith(("?", "？")) else 5
    injection = any(_ADDRESSES_REVIEWER.search(b[k]) for k in ("source", "question", "answer"))
    return {"clarity": clarity, "faithfulness": faithfulness, "relevance": relevance,
            "completeness": relevance, "addresses_reviewer": bool(injection),
            "reason": f"{share(b['answer'], b['source']):.0%} of the answer is in the source."}


# ------------------------------------------------------------------ answers

def is_answer_request(prompt: str) -> bool:
    return "passage" in tagged(prompt) and "\nQuestion:" in prompt


def _question(prompt: str) -> str:
    return prompt.rsplit("\nQuestion:", 1)[1].strip()


def grounded_answer(prompt: str) -> str:
    """The two passage sentences that share most with the question, in passage order. A
    Markdown heading is no sentence of an answer (heading + the question's own sentence would
    be a restatement, which clean drops as ``repeats_question``)."""
    text = "\n".join(ln for ln in tagged(prompt)["passage"].splitlines()
                     if not ln.lstrip().startswith("#"))
    passage = sentences(text)
    q = _question(prompt)
    ranked = sorted(range(len(passage)), key=lambda i: (-share(q, passage[i]), i))[:2]
    return " ".join(passage[i] for i in sorted(ranked))


def faulty_answer(kind: str, prompt: str, seen_passages: list[str]) -> str:
    """The answer text of answer fault ``kind`` (see ``ANSWER_FAULTS``)."""
    passage = tagged(prompt)["passage"]
    lang = lang_of(passage)
    if kind == "invented":
        return INVENTED[lang]
    if kind == "invented_tail":  # a grounded answer that ends with a sentence of its own
        return f"{grounded_answer(prompt)} {sentences(INVENTED[lang])[0]}"
    if kind == "wrong_language":
        return WRONG_LANGUAGE[lang]
    if kind == "other_chunk":
        others = [p for p in seen_passages if p != passage]
        return " ".join(sentences(others[0])[:2]) if others else INVENTED[lang]
    # off_topic: a true sentence of the passage that answers a different question.
    q, parts = _question(prompt), sentences(passage)
    return min(parts, key=lambda s: (share(q, s), parts.index(s)))


# ------------------------------------------------------------------ schema breakers

def _resolve(schema: dict, defs: dict) -> dict:
    while "$ref" in schema:
        schema = defs[schema["$ref"].split("/")[-1]]
    return schema


def break_schema(kind: str, value: Any, schema: dict) -> Any:
    """A copy of a valid ``value`` that still parses but breaks ``schema``: one item too many in
    the first array (``wrong_count``), the first bounded number one above its maximum
    (``out_of_range``, a score of 11 on a 1-10 scale), or the first required field removed
    (``missing_field``)."""
    value, defs = copy.deepcopy(value), schema.get("$defs", {})
    if kind == "missing_field":
        value.pop((schema.get("required") or list(value))[0], None)
        return value
    _break(kind, value, schema, defs)
    return value


def _break(kind: str, value: Any, schema: dict, defs: dict) -> bool:
    schema = _resolve(schema, defs)
    if isinstance(value, dict):
        props = schema.get("properties", {})
        for key, sub in props.items():
            s = _resolve(sub, defs)
            if kind == "out_of_range" and "maximum" in s and isinstance(value.get(key), (int, float)):
                value[key] = s["maximum"] + 1
                return True
            if kind == "wrong_count" and isinstance(value.get(key), list) and value[key]:
                value[key].append(copy.deepcopy(value[key][-1]))
                return True
            if key in value and _break(kind, value[key], s, defs):
                return True
    if isinstance(value, list):
        return any(_break(kind, v, schema.get("items", {}), defs) for v in value)
    return False


def in_prose(content: str) -> str:
    """A JSON reply wrapped in chatty prose, as models do without a JSON mode."""
    return f"Sure! Here is the JSON you asked for:\n{content}\nLet me know if you need anything else."


def repetition(content: str, max_tokens: int) -> str:
    """The start of a reply, then one phrase repeated until ``max_tokens`` (~4 chars a token)."""
    head = content[: max(1, len(content) // 3)]
    loop = " and the attacker and the attacker"
    return (head + loop * (4 * max_tokens // len(loop) + 1))[: 4 * max_tokens]


def json_or_none(content: str) -> Any:
    try:
        return json.loads(content)
    except (json.JSONDecodeError, TypeError):
        return None
