"""Questions without their subject, and how to give them one.

Input: a question (``clean_samples.question``), the chunk's heading path (``chunks.heading_path``
split on " > ") and optionally a domain node label. Output: ``lacks_subject`` True / False and
``make_self_contained`` (the question with its subject, or None).

A question lacks its subject when
- it points at something it never names: English "it / its / they / their / this X / these X /
  that <kind noun>" or Chinese 这(种/个/类...)X, 该X, 此X, 其X, 它(们), 上述, 前者/后者, with no
  topic word before the pointer in the question itself ("SQL injection is common; how is it
  prevented?" names it first; "Is it safe to ...?" is an expletive "it"), or
- nothing in it names a topic: once generic words are set aside ("main", "defense", "risk",
  主要, 措施, 风险, question words; ``sftforge.cleaning.lexicon``) no content unit remains
  ("What is the main defense?", "主要风险是什么？").

The fix is certain only when the pointer or the bare kind noun is generic (method, attack, 方法,
漏洞...) and the chunk's deepest heading that names a topic (or the node label) gives the
subject; a pointer to an attack or vulnerability needs a heading that names one. Otherwise the
question is dropped (``question_without_subject``).
"""

from __future__ import annotations

import re

from sftforge.cleaning.evidence import has_verb
from sftforge.cleaning.lexicon import GENERIC_EN, specific_units
from sftforge.cleaning.normalize import HAN
from sftforge.grounding.score import stem

_EN_POINTER_RE = re.compile(
    r"\b(?:(?P<pron>it|its|they|them|their)\b"
    r"|(?P<det>this|these|those|the above|the former|the latter)\b(?:\s+(?P<noun>[a-z-]+))?"
    r"|that\s+(?P<thatnoun>[a-z-]+))", re.IGNORECASE)
# "Is it safe to ...", "Why is it important that ...": "it" stands for the clause after it.
_EXPLETIVE_AFTER_RE = re.compile(r"^\s+(?:(?:\w+\s+){0,2}(?:to|that)\b|called\s+(?:when|if))",
                                 re.IGNORECASE)
_ZH_POINTER_RE = re.compile(
    r"(?P<pron>它们|它)"
    r"|(?P<its>(?<![尤极与及])其(?![他它中实次余]))"
    r"|(?P<det>这|那(?!么)|(?<![应活本不])该(?![如怎不去])|(?<![因如彼由为从对])此(?![外])|上述|前者|后者)"
    r"(?P<cls>种|个|类|些|一|项|样|款|次)?(?P<noun>[\u4e00-\u9fff]{0,4})")
_ATTACK_EN = frozenset(stem(w) for w in "attack vulnerability exploit flaw bug".split())
_DEFENSE_EN = frozenset(stem(w) for w in
                        "defense defence protection mitigation countermeasure fix remedy".split())
# Words that name an attack or a vulnerability class (what "this attack" / 该漏洞 can point at).
_ATTACKISH = re.compile(
    r"inject|scripting|forgery|xss|csrf|ssrf|xxe|overflow|attack|hijack|jacking|traversal|spoof|"
    r"phish|fixation|poisoning|smuggling|deserializ|stuffing|brute|replay|escalation|"
    r"enumeration|exploit|vulnerab|注入|攻击|漏洞|跨站|伪造|溢出|劫持|钓鱼|遍历|固定|投毒|走私|"
    r"反序列化|撞库|爆破|重放|提权|枚举", re.I)
_ZH_KIND_NOUNS = ("方法", "方案", "技术", "措施", "攻击", "漏洞", "机制", "手段", "方式", "策略",
                  "防御", "工具", "函数", "代码", "问题", "风险", "配置")
_ZH_ATTACK_NOUNS = ("攻击", "漏洞")
_GENERIC_HEADING_EN = frozenset(stem(w) for w in """
introduction overview background summary conclusion conclusions basics fundamentals notes
appendix chapter section part building understanding using preventing defending avoiding
mitigating the defense defenses
""".split())
_GENERIC_HEADING_ZH = ("概述", "简介", "引言", "小结", "总结", "背景", "基础", "附录", "概念", "防御",
                       "防护", "防范", "措施", "方法")


def unresolved_pointer(question: str) -> re.Match[str] | None:
    """The first pointer of ``question`` with no topic word before it, or None."""
    for m in _EN_POINTER_RE.finditer(question):
        if m.group("pron") and m.group("pron").lower() == "it" \
                and _EXPLETIVE_AFTER_RE.match(question[m.end():]):
            continue
        if m.group("thatnoun") and stem(m.group("thatnoun").lower()) not in _KIND_NOUNS_EN:
            continue  # "that" opening a clause ("the attack that uses ..."): not a pointer
        if not specific_units(question[:m.start()]):
            return m
    for m in _ZH_POINTER_RE.finditer(question):
        if not specific_units(question[:m.start()]):
            return m
    return None


def lacks_subject(question: str) -> bool:
    """True when ``question`` does not name what it asks about (see the module)."""
    return unresolved_pointer(question) is not None or not specific_units(question)


# --- the fix -------------------------------------------------------------------------------

_LEADING_GERUND_RE = re.compile(r"^(?:[A-Za-z]+ing)\s+(?:(?:against|with|for|from)\s+)?(?:the\s+)?")
_NUMBER_RE = re.compile(r"^\s*(?:#+\s*)?(?:\d+(?:\.\d+)*[.)]?\s+|第[一二三四五六七八九十百\d]+[章节部分]\s*)")


def _subject_of_heading(heading: str, attack: bool) -> str | None:
    """The topic a heading names ("Preventing SQL Injection" -> "SQL Injection"), or None when
    it names none (generic, a sentence) or, with ``attack``, no attack or vulnerability."""
    text = _NUMBER_RE.sub("", heading).strip().rstrip("：:.。")
    if not text or has_verb(text) or len(text) > 60 or "\n" in text:
        return None
    text = _LEADING_GERUND_RE.sub("", text) if re.search(r"[A-Za-z]", text[:1]) else text
    for word in _GENERIC_HEADING_ZH:  # 防御SQL注入 / SQL注入的防御 -> SQL注入
        text = re.sub(f"^{word}|的?{word}$", "", text)
    units = specific_units(text)
    if not units or units <= _GENERIC_HEADING_EN or (attack and not _ATTACKISH.search(text)):
        return None
    return text.strip()


def pick_subject(heading_path: list[str] | None, node: str | None, attack: bool,
                 deepest: bool = False) -> str | None:
    """The deepest heading of the path that names a topic (with ``attack``: an attack), else
    the node label, else None. With ``deepest`` only the chunk's own (last) heading counts: a
    pronoun points at what the section is about, and a generic section title ("Building the
    Defense") leaves that uncertain."""
    path = [h for h in heading_path or [] if h.strip()]
    for heading in reversed(path[-1:] if deepest else path):
        subject = _subject_of_heading(heading, attack)
        if subject:
            return subject
    if deepest and path:
        return None
    return _subject_of_heading(node, attack) if node else None


def _en_subject(subject: str) -> str:
    """Title Case words lowered for a sentence ("Cross-Site Scripting (XSS)" -> "cross-site
    scripting (XSS)"); acronyms and code names kept."""
    def low(word: str) -> str:
        parts = word.split("-")
        if all(p[:1].isupper() and p[1:].islower() for p in parts if p):
            return word.lower()
        return word
    return " ".join(low(w) for w in subject.split())


def _is_zh(question: str) -> bool:
    return bool(re.search(f"[{HAN}]", question))


def make_self_contained(question: str, heading_path: list[str] | None,
                        node: str | None = None) -> str | None:
    """``question`` with its subject supplied from the heading path / node when that is certain,
    the question itself when it names its subject, None when it cannot be made so."""
    if not lacks_subject(question):
        return question
    fix = _fix_zh if _is_zh(question) else _fix_en
    fixed = fix(question, heading_path, node)
    if not fixed or lacks_subject(fixed) or _repeats_subject(question, fixed):
        return None
    return fixed


def _repeats_subject(question: str, fixed: str) -> bool:
    """True when the supplied subject shares a topic word with what the question kept
    ("它的权限" + heading 最小权限 -> "最小权限的权限"): the heading then names the category the
    question is about, not the thing it points at."""
    start = 0
    while start < min(len(question), len(fixed)) and question[start] == fixed[start]:
        start += 1
    end = 0
    while end < min(len(question), len(fixed)) - start and question[-1 - end] == fixed[-1 - end]:
        end += 1
    added = fixed[start:len(fixed) - end]
    return bool(specific_units(added) & specific_units(question))


_KIND_NOUNS_EN = frozenset(stem(w) for w in """
defense defence protection mitigation countermeasure fix remedy solution safeguard control risk
danger threat weakness limitation drawback disadvantage downside advantage benefit strength
purpose goal aim role idea concept principle method approach technique strategy step procedure
practice measure mechanism attack vulnerability exploit flaw issue problem cause reason effect
impact consequence difference feature
""".split())
_QUALIFIER_RE = re.compile(r"^\s+(?:of|against|for|in|on|to|from|with|between)\b", re.I)
_NP_STOP = frozenset("of to in for on when compared and or with against than from by at as is "
                     "are was were do does did can could should would will".split())


def _fix_en(question: str, heading_path: list[str] | None, node: str | None) -> str | None:
    m = unresolved_pointer(question)
    if m is None:
        return _qualify_en(question, heading_path, node)
    pron = (m.group("pron") or "").lower()
    if pron in ("it", "they", "them"):
        subject = pick_subject(heading_path, node, attack=False, deepest=True)
        return subject and question[:m.start()] + _en_subject(subject) + question[m.end():]
    if pron in ("its", "their"):  # "its main limitations" -> "the main limitations of X"
        rest = re.match(r"((?:\s+[A-Za-z-]+){1,3})", question[m.end():])
        words = (rest.group(1).split() if rest else [])
        while words and words[-1].lower() in _NP_STOP:
            words.pop()
        subject = pick_subject(heading_path, node, attack=False, deepest=True)
        if not words or not subject:
            return None
        end = m.end() + question[m.end():].index(words[-1]) + len(words[-1])
        np = f"the {' '.join(words)} of {_en_subject(subject)}"
        return question[:m.start()] + np + question[end:]
    noun = (m.group("noun") or m.group("thatnoun") or "").lower()
    if stem(noun) not in _KIND_NOUNS_EN:
        return None  # "this cookie", "this?": what it points at is not a kind of thing
    attack = stem(noun) in _ATTACK_EN
    subject = pick_subject(heading_path, node, attack=attack, deepest=not attack)
    return subject and question[:m.start()] + _en_subject(subject) + question[m.end():]


def _qualify_en(question: str, heading_path: list[str] | None, node: str | None) -> str | None:
    """"What is the main defense?" -> "What is the main defense against X?"."""
    for m in re.finditer(r"\b(?:the|a|an)((?:\s+[A-Za-z-]+){1,3})", question, re.I):
        words = m.group(1).split()
        while words and stem(words[-1].lower()) not in _KIND_NOUNS_EN:
            words.pop()
        if not words or not all(stem(w.lower()) in GENERIC_EN for w in words):
            continue
        head = stem(words[-1].lower())
        end = m.start(1) + m.group(1).index(words[-1]) + len(words[-1])
        if _QUALIFIER_RE.match(question[end:]):
            return None  # "the purpose of the function": qualified by something unknown
        # a defense is against an attack: "the main defense" needs a heading naming one
        subject = pick_subject(heading_path, node, attack=head in _ATTACK_EN | _DEFENSE_EN)
        if not subject:
            return None
        subject = _en_subject(subject)
        if head in _ATTACK_EN:
            return question[:m.start()] + f"the {subject} {' '.join(words)}" + question[end:]
        link = "against" if head in _DEFENSE_EN else "of"
        return question[:end] + f" {link} {subject}" + question[end:]
    return None


_ZH_DEFENSE_RE = re.compile(r"防御|防范|防止|防护|缓解|修复|抵御")
_ZH_LEAD_RE = re.compile(r"^(?:如何|怎样|怎么|为什么|为何|是否|有|能|可以|会|应|该|在)")


def _fix_zh(question: str, heading_path: list[str] | None, node: str | None) -> str | None:
    m = unresolved_pointer(question)
    if m is None:  # "主要风险是什么？" -> "X的主要风险是什么？"; "如何防御？" -> "X如何防御？"
        subject = pick_subject(heading_path, node, attack=bool(_ZH_DEFENSE_RE.search(question)))
        if not subject:
            return None
        head = question.lstrip()
        return subject + ("" if _ZH_LEAD_RE.match(head) else "的") + head
    if m.group("pron") or m.group("its"):
        subject = pick_subject(heading_path, node, attack=False, deepest=True)
        tail = "的" if m.group("its") else ""
        return subject and question[:m.start()] + subject + tail + question[m.end():]
    noun = m.group("noun") or ""
    kind = next((k for k in _ZH_KIND_NOUNS if noun.startswith(k)), "")
    if not kind:
        return None  # "这是什么？": nothing says what kind of thing it points at
    attack = kind in _ZH_ATTACK_NOUNS
    subject = pick_subject(heading_path, node, attack=attack, deepest=not attack)
    end = m.start("noun") + len(kind)
    return subject and question[:m.start()] + subject + question[end:]
