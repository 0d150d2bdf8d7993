"""Observed labels: the question type and difficulty a sample IS, read from its text.

Input: a cleaned pair (``clean_samples`` question, answer). Output: ``(qtype, difficulty)``
with qtype in ``sftforge.question_plan.QTYPES`` and difficulty in ``DIFFICULTIES``. The plan's
labels (``samples.qtype`` / ``difficulty``) say what was asked for; these say what came out,
and balance and the card count these (the plan stays beside them as ``planned_qtype`` /
``planned_difficulty``).

Type, the first rule that matches, in this order:
1. ``scenario``: a situation is set up ("Suppose", "Imagine", "A developer ...", "You are ...",
   假设, 设想, 某公司, 如果你是), or a statement sentence precedes the question.
2. ``code``: the question names code (`backticks`, snake_case, ``name()``) or asks for code
   ("write ... function/query/script", "snippet", 代码, 编写), or the answer is a code block.
3. ``how-to``: a procedure is asked for ("How do I / can you / should developers / to",
   "What steps", 如何/怎样/怎么 + an action, 步骤), but not "how does X work" (conceptual).
4. ``reasoning``: why, consequences, comparisons, mechanisms ("Why", "What happens if", "How
   does X prevent Y", 为什么, 为何, 如果...会, 相比, 区别).
5. ``factual``: a fact is asked for ("Which", "Who", "When", "How many", "What port/version",
   "What are two ...", 哪, 多少, 几, 默认).
6. ``conceptual``: a meaning, purpose or principle ("What does X mean", "What is the purpose
   of", 什么是, 原理, 作用); else ``factual`` when the answer is one short claim (at most
   ``FACT_MAX_TOKENS``), ``conceptual`` otherwise.

Difficulty: points from the answer: its claims (sentences with >= 2 content units) beyond the
first (at most 3), a reasoning marker ("because", "therefore", ", so", 因为, 所以, 因此, 从而: 1),
length (>= ``MEDIUM_ANSWER_TOKENS``: 1, >= ``LONG_ANSWER_TOKENS``: 1 more) and the type
(reasoning or scenario: 1). 0-1 easy, 2-3 medium, 4+ hard.
"""

from __future__ import annotations

import re

from sftforge.grounding.score import MIN_UNITS, content_units
from sftforge.text import estimate_tokens, split_sentences

FACT_MAX_TOKENS = 16
MEDIUM_ANSWER_TOKENS = 40
LONG_ANSWER_TOKENS = 100

_SCENARIO_RE = re.compile(
    r"^\s*(?:suppose|imagine|assume|consider\s+(?:a|an|the\s+following)|in\s+a\s+scenario|"
    r"you\s+are|you'?re|a\s+(?:developer|team|company|user|tester|startup|bank|web\s+app)|"
    r"an\s+(?:attacker|application|engineer|administrator|admin|online)|your\s+\w+|"
    r"if\s+you\s+were|during\s+a\s+(?:code\s+review|penetration\s+test|pentest|audit))\b"
    r"|\bscenario\b|假设|假如|设想|想象|某(?:公司|网站|团队|开发者|系统|应用|银行|企业|电商)|如果你是|"
    r"一名(?:开发|工程|测试|管理)|场景", re.IGNORECASE)
# Code named or asked for; "hash function" and 跨站脚本 are concepts, not code.
_CODE_RE = re.compile(
    r"`[^`]+`|\b[a-z]+(?:_[a-z0-9]+)+\b|\b\w+\(\)|\b(?:code|snippet|regex|regular\s+expression)\b"
    r"|\b(?:write|implement|complete|show)\b.*\b(?:function|query|script|statement|command|"
    r"program|class|config(?:uration)?)\b|代码|编写|写出|写一个|正则|SQL\s*语句|函数\s*[A-Za-z_]",
    re.IGNORECASE)
_HOWTO_RE = re.compile(
    r"^\s*how\s+(?:to|do|can|could|should|would|might|must)\s+(?:i|you|we|one|developers?|"
    r"a\s+developer|users?|teams?|administrators?|an?\s+\w+|the\s+\w+)\b(?!\s+work)"
    r"|\bhow\s+to\b|\b(?:what|which)\s+steps\b|\bsteps?\s+(?:to|for)\b"
    r"|\bwhat\s+should\s+(?:i|you|we|developers?|a\s+\w+)\s+do\b"
    r"|(?:如何|怎样|怎么|怎么样)(?!工作|运作|运行|理解|看待|区分|影响|导致|回事)|步骤|该怎么做",
    re.IGNORECASE)
_HOWTO_MECHANISM_RE = re.compile(r"^\s*how\s+(?:does|do|is|are)\s+.*\b(?:work|works|function)\b",
                                 re.IGNORECASE)
_WHY_RE = re.compile(r"\bwhy\b|为什么|为何", re.IGNORECASE)
# "参数化查询如何防止SQL注入？" asks how a thing works (a person asking is how-to: 开发者如何...).
_ZH_MECHANISM_RE = re.compile(
    r"(?<![者员户们你我队])(?<=[\w）)])如何(?:防止|阻止|防御|保护|避免|抵御|缓解|工作|运作|实现)")
_REASONING_RE = re.compile(
    r"^\s*why\b|\bwhy\b|\bwhat\s+(?:would|will|could|might)\s+happen|\bwhat\s+happens\s+(?:if|when)"
    r"|\bconsequences?\b|\bcompare|\bcompared\b|\bdifference\s+between\b|\bbetter\s+than\b"
    r"|\b(?:instead\s+of|rather\s+than)\b|^\s*how\s+(?:does|do|can|could|would)\s+.+\b(?:prevent|"
    r"stop|protect|help|lead|cause|affect|mitigate|reduce|defeat|bypass)|\bwhat\s+makes\b"
    r"|为什么|为何|原因|如果.*(?:会|将)|会导致|会发生|相比|比较|区别|不同之处|优于|如何(?:影响|导致)",
    re.IGNORECASE)
_FACTUAL_RE = re.compile(
    r"^\s*(?:which|who|when|where|how\s+(?:many|much|long|often)|name|list)\b"
    r"|\bwhat\s+(?:port|year|version|number|value|default|header|flag|status|size|length|"
    r"percentage|command|protocol|attribute|character|characters|are\s+(?:two|three|four|the\s+"
    r"(?:two|three)))\b|\bwhat\s+is\s+the\s+(?:default|name|value|maximum|minimum)\b"
    r"|哪|多少|几|谁|何时|什么时候|默认|叫什么|名称|列出|列举", re.IGNORECASE)
_CONCEPT_RE = re.compile(
    r"\b(?:mean|means|meaning|purpose|principle|idea|concept|definition|define|explain|describe"
    r"|role)\b|什么是|什么意思|含义|原理|作用|概念|目的|定义|解释|描述", re.IGNORECASE)
_REASON_MARKER_RE = re.compile(
    r"\b(?:because|therefore|thus|hence|so\s+that|since|as\s+a\s+result|which\s+means|"
    r"consequently|otherwise|in\s+order\s+to)\b|,\s*so\b|因为|所以|因此|从而|由于|导致|否则|以便|这样一来|于是",
    re.IGNORECASE)


def observed_qtype(question: str, answer: str = "") -> str:
    """Question type of the pair by the rules of the module docstring."""
    sentences = split_sentences(question)
    set_up = len(sentences) >= 2 and not re.search(r"[?？]\s*$", sentences[0])
    if _SCENARIO_RE.search(question) or set_up:
        return "scenario"
    if _CODE_RE.search(question) or "```" in answer:
        return "code"
    if _ZH_MECHANISM_RE.search(question):
        return "reasoning"
    if _HOWTO_RE.search(question) and not _HOWTO_MECHANISM_RE.search(question) \
            and not _WHY_RE.search(question):
        return "how-to"
    if _REASONING_RE.search(question):
        return "reasoning"
    if _FACTUAL_RE.search(question):
        return "factual"
    if _CONCEPT_RE.search(question):
        return "conceptual"
    return "factual" if _short_claim(answer) else "conceptual"


def _short_claim(answer: str) -> bool:
    return bool(answer.strip()) and estimate_tokens(answer) <= FACT_MAX_TOKENS \
        and claims(answer) <= 1


def claims(answer: str) -> int:
    """Sentences of ``answer`` that carry a claim (>= 2 content units)."""
    return sum(1 for s in split_sentences(answer) if len(content_units(s)) >= MIN_UNITS)


def observed_difficulty(answer: str, qtype: str) -> str:
    """easy / medium / hard from the answer's claims, reasoning, length and the type."""
    tokens = estimate_tokens(answer)
    points = min(max(claims(answer) - 1, 0), 3) + bool(_REASON_MARKER_RE.search(answer)) \
        + (tokens >= MEDIUM_ANSWER_TOKENS) + (tokens >= LONG_ANSWER_TOKENS) \
        + (qtype in ("reasoning", "scenario"))
    return "easy" if points <= 1 else "medium" if points <= 3 else "hard"


def observed_labels(question: str, answer: str) -> tuple[str, str]:
    """(qtype, difficulty) the pair shows."""
    qtype = observed_qtype(question, answer)
    return qtype, observed_difficulty(answer, qtype)
