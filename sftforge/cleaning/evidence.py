"""Is a citation evidence? A quote proves an answer only when it states something the answer
says: a heading ("Output Encoding", "## 防御措施") or a quote sharing no content word with the
answer proves nothing.

Input: one quote (``clean_samples.citations[].quote``), the answer, the chunk text
(``chunks.text``, whose headings are ``#`` lines) and the chunk's heading path
(``chunks.heading_path`` split on " > "). Output: ``is_evidence`` True / False.

A quote is a heading when, folded as the citation matcher folds text
(``sftforge.grounding.citations.fold``: case, width, spaces and punctuation ignored), it equals
a heading of the path or a ``#`` line of the chunk (section numbers "3.2" ignored), or when it
is a title-like line of the chunk (the whole line, not a fragment of a sentence): short (<= 8
words / 16 Han characters), no sentence punctuation inside or at the end, and no verb
(English: auxiliaries, modals, a list of common verbs, -ed forms after a word; Chinese: a list
of verbs and copulas). "Use parameterized queries." ends with a full stop and
"使用参数化查询" has a verb (使用): both stay evidence.
"""

from __future__ import annotations

import re

from sftforge.cleaning.normalize import HAN
from sftforge.grounding.citations import fold
from sftforge.grounding.score import content_units

TITLE_MAX_WORDS = 8
TITLE_MAX_HAN = 16
_NUMBERING_RE = re.compile(r"^\s*(?:#+\s*)?(?:(?:\d+|[ivxIVX]+|[A-Z])(?:\.\d+)*[.)]?\s+"
                           r"|第[一二三四五六七八九十百\d]+[章节部分]\s*|[一二三四五六七八九十]+[、.．]\s*)")
_HEADING_LINE_RE = re.compile(r"^\s{0,3}#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)
_SENTENCE_PUNCT_RE = re.compile(r"[.!?;:。！？；：，,](?=\s|$)|[。！？；，]")
_EN_VERBS = frozenset("""
is are was were be been being am has have had do does did can could should must will would may
might shall use uses used prevent prevents prevented stop stops block blocks allow allows
require requires need needs make makes let lets send sends return returns run runs contain
contains mean means escape escapes encode encodes validate validates reject rejects store
stores execute executes inject injects include includes protect protects reduce reduces cause
causes lead leads give gives take takes become becomes get gets keep keeps set sets read reads
write writes call calls treat treats ensure ensures apply applies work works listen listens
""".split())
# Verbs only: 注入, 编码, 验证, 存储 are nouns in headings (SQL注入, 输出编码); 会/能/要 are
# verbs except inside 会话, 功能, 性能, 重要, 主要, 需要 (itself listed), 要求.
_ZH_VERBS = re.compile(
    r"是|为了|可以|能够|应该|应当|需要|必须|会(?![话议])|(?<![功性智可])能(?![力量源])|"
    r"(?<![重主需摘概纲])要(?![求素点])|使用|采用|利用|防止|阻止|避免|导致|造成|通过|把|被|将|允许|包含|"
    r"执行|返回|发送|调用|确保|用于")


def _clean_heading(text: str) -> str:
    return fold(_NUMBERING_RE.sub("", text))


def chunk_headings(source: str, heading_path: list[str] | None) -> set[str]:
    """Folded headings of the chunk: its heading path and its ``#`` lines."""
    heads = [*(heading_path or []), *_HEADING_LINE_RE.findall(source or "")]
    return {h for h in (_clean_heading(x) for x in heads) if h}


def has_verb(text: str) -> bool:
    """True when ``text`` holds a verb (English list + -ed forms; Chinese list)."""
    if _ZH_VERBS.search(text):
        return True
    words = re.findall(r"[a-z]+", text.lower())
    return any(w in _EN_VERBS or _past_verb(words, i) for i, w in enumerate(words))


def _past_verb(words: list[str], i: int) -> bool:
    """An -ed word used as a verb ("input is validated", "scripts stored by the browser"), not
    as an adjective before its noun ("Parameterized Queries", "Stored XSS")."""
    w = words[i]
    if not (w.endswith("ed") and len(w) > 4) or i == 0:
        return False
    return i == len(words) - 1 or words[i + 1] in _AFTER_VERB


_AFTER_VERB = frozenset("by to in with as from on at for into through before after".split())


def title_like(quote: str) -> bool:
    """True for a short line with no sentence punctuation and no verb: a title, a label."""
    text = quote.strip().strip("\"'“”‘’「」『』*_#").strip()
    han = len(re.findall(f"[{HAN}]", text))
    words = len(re.sub(f"[{HAN}]", " ", text).split())
    if han > TITLE_MAX_HAN or words > TITLE_MAX_WORDS or (han and words > 4):
        return False
    if _SENTENCE_PUNCT_RE.search(text.rstrip(")）]】")) or "\n" in text:
        return False
    return not has_verb(text)


def _is_line(folded: str, source: str) -> bool:
    """True when a whole line of ``source`` is ``folded`` (a quote taken from inside a
    sentence is a fragment of a statement, not a title)."""
    return any(_clean_heading(line) == folded for line in source.splitlines())


def is_heading(quote: str, source: str = "", heading_path: list[str] | None = None) -> bool:
    """True when ``quote`` is one of the chunk's headings, or a title-like line of it (any
    title-like quote when no source is given)."""
    folded = _clean_heading(quote)
    if not folded:
        return True
    if folded in chunk_headings(source, heading_path):
        return True
    return title_like(quote) and (not source.strip() or _is_line(folded, source))


def is_evidence(quote: str, answer: str, source: str = "",
                heading_path: list[str] | None = None, question: str = "") -> bool:
    """True when ``quote`` is a statement (not a heading) sharing a content unit with
    ``answer``; for a yes/no answer ("可以。", "No."), whose claim is the question's, with the
    question and the answer."""
    if is_heading(quote, source, heading_path):
        return False
    said = content_units(answer) | (content_units(question) if question else set())
    return bool(content_units(quote) & said)
