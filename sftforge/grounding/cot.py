"""CoT and answer hygiene: no reasoning that leans on "the passage", no CoT that only repeats
the answer.

Input: ``cot`` and ``answer`` of a sample (``samples`` / ``clean_samples``) and the document
language. Output: a :class:`CotVerdict` (text to store, ``kept`` / ``rewritten`` / ``dropped``,
reason). The trained model's user has no passage, so "The passage states that X" teaches it to
cite a text that is not there; the claim X is what the reasoning needs.

Per sentence (lines and list markers kept): a referring lead or tail clause is cut ("According
to the text, X" -> "X", "原文指出，X" -> "X", "X, as the passage notes." -> "X."); a sentence
that still refers to the source afterwards ("Let me re-read the passage.") is dropped. When
more than ``MAX_DROPPED_SHARE`` of a text's sentences had to go, what is left is not the same
reasoning, so the whole text is dropped. Which phrases refer to the source is decided by the
one shared pattern, ``sftforge.cleaning.source_refs``.

Questions get the same cuts, all or nothing (:func:`question_hygiene`): a question that still
refers to the source is left for the clean stage to drop.

Reasons: ``cot_refers_to_source``, ``cot_repeats_answer`` (the CoT is dropped, the sample kept
without it), ``answer_refers_to_source`` (the sample is dropped).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from sftforge.cleaning.source_refs import (
    EN_REPORTING_VERB,
    EN_SOURCE_NP,
    EN_SOURCE_PREP,
    ZH_REPORTING_VERB,
    ZH_SOURCE_WORD,
    refers_to_source,
)
from sftforge.grounding.score import content_units
from sftforge.text import split_sentences

MAX_DROPPED_SHARE = 0.5  # CoT: more sentences than this dropped -> the CoT is dropped
MAX_ANSWER_DROPPED_SHARE = 0.34  # answers carry the facts: a third gone is too much
COPY_SHARE = 0.8  # share of the CoT's content units already in the answer -> a copy

Action = Literal["kept", "rewritten", "dropped"]


@dataclass(frozen=True)
class CotVerdict:
    """What to store for a CoT or answer: its ``text`` ("" when dropped), the ``action`` taken
    and the ``reason`` ("" when kept)."""

    text: str
    action: Action
    reason: str = ""


_NP = rf"(?:{EN_SOURCE_NP})"
_ZH_BARE = r"(?:材料|资料|段落|文章|文本)"
_ZH_VERB = rf"(?:(?:明确|也|还|进一步|清楚)?地?(?:{ZH_REPORTING_VERB}|可以看出|可以得知|看出|得知))"
_ZH_PREP = r"(?:根据|按照|依据|基于|从|如|正如)"
_ZH_TAIL = r"(?:的(?:描述|内容|说法|信息|介绍))?"
# Cut patterns, tried in order on one sentence (list marker already removed).
_LEADS = [re.compile(p, re.IGNORECASE) for p in (
    rf"^(?:{EN_SOURCE_PREP})\s+{_NP}\s*(?:,\s*|\s+(?=it\b|we\b|the\b|this\b|there\b))",
    rf"^(?:as\s+)?{_NP}\s+(?:(?:also|clearly|explicitly|further|itself)\s+)?"
    rf"(?:{EN_REPORTING_VERB})\s*(?:that\s+|[:,]\s*)",
    rf"^{_ZH_PREP}?{ZH_SOURCE_WORD}(?:中|里)?{_ZH_TAIL}{_ZH_VERB}?(?:了|的)?(?:那样|一样)?[，,：:]\s*",
    # without a comma only before a clause: "提到了X" names a topic, not a claim
    rf"^{_ZH_PREP}?{ZH_SOURCE_WORD}(?:中|里)?{_ZH_TAIL}{_ZH_VERB}(?![了的])\s*",
    rf"^{_ZH_PREP}{_ZH_BARE}(?:中|里)?{_ZH_TAIL}{_ZH_VERB}?(?:了|的)?(?:那样|一样)?[，,：:]?\s*",
    rf"^(?:{_ZH_BARE}|作者){_ZH_VERB}(?:了)?[，,：:]?\s*",
)]
_TAILS = [re.compile(p, re.IGNORECASE) for p in (
    # "as stated in the text" only: a bare "... in the text." is where the writer looked
    rf"\s*,?\s*(?:as\s+)?(?:stated|described|mentioned|noted|explained|shown|outlined|"
    rf"discussed|given)\s+(?:in|by)\s+{_NP}(?=\s*[.!?]?\s*$)",
    rf"\s*,?\s*according\s+to\s+{_NP}\s*(?=[,.!?]|$)",
    rf"\s*,?\s*(?:just\s+)?as\s+{_NP}\s+(?:{EN_REPORTING_VERB})(?=\s*[.!?]?\s*$)",
    rf"[，,]?(?:这|正如|如)?(?:是)?{ZH_SOURCE_WORD}(?:中|里)?(?:所述|提到的|所说的|指出的|的说法)"
    rf"(?:那样|一样)?(?=[。！？]?$)",
)]
# A reduced relative clause inside a sentence ("the two layers of defense mentioned in the
# passage are ..."): cut when a verb or punctuation follows, so "the text field" stays.
_MIDDLES = [re.compile(
    rf"\s+(?:that\s+(?:is|are|was|were)\s+)?(?:mentioned|described|discussed|listed|outlined|"
    rf"presented|covered|given|stated|named)\s+in\s+{_NP}"
    r"(?=\s*(?:[,.;:!?)]|$)|\s+(?:are|is|was|were|include|includes|can|could|should|must|have|has)\b)",
    re.IGNORECASE),
    # "原文中提到的同步令牌" -> "同步令牌"
    re.compile(rf"{ZH_SOURCE_WORD}(?:中|里)?所?(?:提到|提及|介绍|描述|列出|列举|讨论|说明|指出|给出)了?的"),
]
_LIST_MARKER_RE = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+")


def rewrite_sentence(sentence: str) -> str | None:
    """``sentence`` without its referring clause, or ``None`` when it cannot do without it."""
    if not refers_to_source(sentence):
        return sentence
    marker = _LIST_MARKER_RE.match(sentence)
    prefix = marker.group() if marker else ""
    body = sentence[len(prefix):]
    for rule in _LEADS:
        body, n = rule.subn("", body, count=1)
        if n:
            body = _capitalize(body)
            break
    for rule in (*_TAILS, *_MIDDLES):  # tails first: they take their "as" and comma along
        body = rule.sub("", body)
    body = body.strip()
    if not content_units(body) or refers_to_source(body):
        return None
    return prefix + body


def _capitalize(text: str) -> str:
    """First letter upper-cased, unless the first word is an identifier (innerHTML, tls_v1)."""
    first = text.split(" ", 1)[0]
    if first[:1].islower() and first.isalpha() and first.islower():
        return text[0].upper() + text[1:]
    return text


def strip_references(text: str) -> tuple[str, int, int]:
    """``text`` with referring clauses cut and unfixable sentences dropped, line by line;
    returns (new text, sentences with content, sentences dropped)."""
    lines, total, dropped = [], 0, 0
    for line in text.splitlines():
        pieces = []
        for sentence in split_sentences(line):
            has_content = bool(content_units(sentence))
            total += has_content
            new = rewrite_sentence(sentence)
            if new is None:
                dropped += has_content
            else:
                pieces.append(new)
        if pieces or not line.strip():
            lines.append(_join(pieces))
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip(), total, dropped


def _join(pieces: list[str]) -> str:
    """Sentences of one line joined: no space after CJK punctuation, one after the rest."""
    out = ""
    for p in pieces:
        out += p if not out or out[-1] in "。！？；…：，" else " " + p
    return out


def _referring_verdict(text: str, max_share: float, reason: str) -> CotVerdict:
    if not refers_to_source(text):
        return CotVerdict(text=text.strip(), action="kept")
    new, total, dropped = strip_references(text)
    if not new or (total and dropped / total > max_share):
        return CotVerdict(text="", action="dropped", reason=reason)
    return CotVerdict(text=new, action="rewritten")


def copy_share(cot: str, answer: str) -> float:
    """Share of the CoT's content units that the answer already has (1.0: nothing new)."""
    units = content_units(cot)
    return len(units & content_units(answer)) / len(units) if units else 1.0


def hygiene(cot: str, answer: str, lang: str = "") -> CotVerdict:
    """Verdict on one CoT: passage references rewritten or the CoT dropped
    (``cot_refers_to_source``), a CoT that adds nothing to the answer dropped
    (``cot_repeats_answer``). An empty CoT is kept as it is. ``lang`` is not needed: both
    languages' rules apply to any text (Chinese CoTs quote English terms and vice versa)."""
    if not (cot or "").strip():
        return CotVerdict(text="", action="kept")
    verdict = _referring_verdict(cot, MAX_DROPPED_SHARE, "cot_refers_to_source")
    if verdict.action == "dropped":
        return verdict
    if copy_share(verdict.text, answer) >= COPY_SHARE:
        return CotVerdict(text="", action="dropped", reason="cot_repeats_answer")
    return verdict


def question_hygiene(question: str) -> str:
    """``question`` with its referring clauses cut ("What are the three kinds of XSS mentioned
    in the passage?" -> "What are the three kinds of XSS?") when every sentence survives the
    cut; unchanged otherwise ("What is the main focus of the passage?"), for the clean stage's
    ``refers_to_source`` filter to drop."""
    verdict = _referring_verdict(question or "", 0.0, "refers_to_source")
    return verdict.text if verdict.action == "rewritten" else question


def answer_hygiene(answer: str, lang: str = "") -> CotVerdict:
    """Verdict on one answer: passage references rewritten, or ``dropped`` with
    ``answer_refers_to_source`` when more than a third of it leaned on the passage (then the
    sample is dropped: an answer is not optional as a CoT is)."""
    return _referring_verdict(answer or "", MAX_ANSWER_DROPPED_SHARE, "answer_refers_to_source")
