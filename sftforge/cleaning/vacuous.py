"""Vacuous answers: nothing concrete beyond the question's own words.

Input: a question and its answer (``clean_samples``). Output: ``is_vacuous`` True / False.

An answer is concrete when it has a content unit (``sftforge.grounding.score.content_units``)
that is neither in the question nor a hedge word ("depends", "situation", "principle",
"always", 具体, 情况, 根据, 处理...): "The fix is also always the same in principle." to "What is
the fix for XSS?" and "这需要根据具体情况进行处理。" say nothing; "Port 443." and "使用参数化查询。"
do. A yes/no answer to a yes/no question ("Yes, by default.", "不能。") is an answer, and so is
a choice ("Which is safer, bcrypt or MD5?" - "bcrypt.", "用参数化查询还是转义？" - "参数化查询。").
"""

from __future__ import annotations

import re

from sftforge.cleaning.lexicon import strip_zh
from sftforge.cleaning.normalize import HAN_RE, normalize_text
from sftforge.grounding.score import content_units, stem

# Words of an answer that commits to nothing: hedges, generalities, "it depends".
_HEDGE_EN = frozenset(stem(w) for w in """
depend depends depending situation situations circumstance circumstances case cases context
principle principles general generally always usually often sometimes typically basically
essentially same similar different various varies vary factor factors thing things matter
important importance appropriate appropriately proper properly necessary needed need needs
specific specifically particular certain way ways approach approaches measure measures
handle handled handling deal dealt consider considered careful carefully right correct good
well better best possible overall actually really simply really just main fix solution
solutions problem problems issue issues answer question relevant applicable suitable take
taken ensure security secure safe safety requirement requirements apply applied do done make
follow followed implement implemented keep many multiple several lot lots kind kinds sure
properly protect protected
""".split())
_HEDGE_ZH = tuple(sorted(set("""
需要 根据 具体 情况 进行 处理 相应 相关 适当 合适 恰当 一般 通常 总是 往往 有时 基本 基本上
原则 原则上 同样 相同 不同 各种 因素 方面 考虑 注意 重要 必要 采取 措施 方法 方式 问题 解决
确保 保证 安全 实际 实际上 情形 场景 而定 视 决定 取决于 取决 一定 某些 有关 情况下 要看 看 应当 应该 合理 妥善 正确 得当 一般来说 来说 总的来说 总之
""".split()), key=len, reverse=True))
_POLAR_Q_RE = re.compile(
    r"^\s*(?:is|are|was|were|do|does|did|can|could|should|will|would|has|have|must|may)\b"
    r"|是否|吗[？?]?\s*$|能不能|可不可以|是不是|有没有", re.IGNORECASE)
_POLAR_A_RE = re.compile(r"^\s*(?:yes|no|not|never|only|是的|是|不是|否|不|不能|能|可以|不可以|"
                         r"没有|有|对|不对)\b|^\s*(?:是|不|否|对|能|可以|会|没有|有|无)",
                         re.IGNORECASE)


_CHOICE_RE = re.compile(r"\bor\b|还是|或者", re.IGNORECASE)


def concrete_units(question: str, answer: str) -> set[str]:
    """Units of ``answer`` that are neither in ``question`` nor hedge words."""
    q = content_units(question)
    folded = normalize_text(answer).casefold()
    units = content_units(strip_zh(folded, _HEDGE_ZH))
    # A lone Han character left between hedge words ("要", "看") names nothing.
    return {u for u in units if u not in q and u not in _HEDGE_EN
            and not (len(u) == 1 and HAN_RE.match(u))}


def is_polar_pair(question: str, answer: str) -> bool:
    """True for a yes/no question answered yes or no ("Is ...?" - "No, ...", "...吗？" - "可以。")."""
    return bool(_POLAR_Q_RE.search(question) and _POLAR_A_RE.search(answer))


def is_vacuous(question: str, answer: str) -> bool:
    """True when ``answer`` adds nothing concrete to ``question`` (see the module)."""
    if not answer.strip():
        return False  # empty answers are the length filter's (too_short)
    if is_polar_pair(question, answer):
        return False
    if _CHOICE_RE.search(question) and content_units(answer):
        return False  # "X or Y?" - "X.": the choice is the answer, in the question's words
    return not concrete_units(question, answer)
