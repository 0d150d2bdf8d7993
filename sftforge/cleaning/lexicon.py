"""Word lists and unit helpers shared by the sample rules (``sftforge.cleaning.sample_rules``,
``subject``, ``vacuous``) and the observed labels (``labels``).

Units are the grounding module's content units (``sftforge.grounding.score.content_units``:
stemmed English content words, numbers, Han bigrams), so "concrete", "subject" and "evidence"
are measured on the same units as grounding itself. Generic words are the words any question or
answer on any topic uses ("main", "defense", "risk", 方法, 措施): they say what kind of thing is
asked, not which thing.
"""

from __future__ import annotations

import re

from sftforge.cleaning.normalize import HAN, normalize_text
from sftforge.grounding.score import content_units, stem

# Nouns and verbs that name a kind of thing or act, never the topic itself.
_GENERIC_EN_WORDS = """
main primary key major biggest best most first second important common typical general basic
safest safe effective recommended simplest easiest strongest correct right proper good better
defense defence protection mitigation countermeasure fix remedy solution safeguard control
risk risks danger threat weakness limitation drawback disadvantage downside advantage benefit
strength purpose goal aim role function use usage point idea concept principle meaning
definition method approach technique way strategy step procedure process practice measure
mechanism attack vulnerability issue problem flaw bug cause reason effect impact consequence
result outcome difference example type kind form feature property characteristic rule
recommendation requirement condition factor aspect part component element option thing case
situation scenario alternative problem work works prevent exploit detect avoid stop handle
implement apply happen occur affect need help protect mitigate address solve fail cause mean
called name describe explain attacker developer user system application thing
""".split()
GENERIC_EN = frozenset(stem(w) for w in _GENERIC_EN_WORDS)

# Chinese generic words (longest first when removed); question words are generic too.
GENERIC_ZH = tuple(sorted(set("""
主要 首要 关键 重要 最佳 最好 常见 典型 基本 一般 核心 根本
防御 防护 防范 防止 缓解 修复 解决 措施 办法 方法 方案 手段 方式 途径 技术 策略 步骤 流程
风险 危害 威胁 弱点 缺点 局限 局限性 限制 不足 优点 优势 好处 作用 目的 用途 功能 意义 原理
概念 定义 含义 机制 攻击 漏洞 问题 缺陷 原因 影响 后果 结果 区别 不同 例子 示例 类型 种类 特点
特征 规则 建议 要求 条件 因素 方面 部分 组成 选项 情况 场景 利用 使用 实现 工作 检测 避免
处理 发生 产生 导致 需要 帮助 保护 应对 称为 叫做 攻击者 开发者 用户 系统 应用
什么 哪些 哪个 哪种 何种 如何 怎样 怎么 为什么 为何 多少 是否 有何 有哪些 有什么
""".split()), key=len, reverse=True))

_HAN_WORD_RE = re.compile(f"[{HAN}]")


def strip_zh(text: str, words: tuple[str, ...]) -> str:
    """``text`` with every word of ``words`` replaced by a space (so no bigram spans it)."""
    for w in words:
        text = text.replace(w, " ")
    return text


def specific_units(text: str) -> set[str]:
    """Content units of ``text`` minus generic ones: what names a topic ("xss", "注入").

    Single Han characters left after removing generic words ("有", "会") are not units here:
    a topic in Chinese takes at least two characters.
    """
    folded = normalize_text(text).casefold()
    units = content_units(strip_zh(folded, GENERIC_ZH))
    return {u for u in units if u not in GENERIC_EN and not (len(u) == 1 and
                                                              _HAN_WORD_RE.match(u))}
