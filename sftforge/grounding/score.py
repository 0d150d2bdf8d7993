"""Grounding score: how much of an answer its source chunk supports, without an LLM call.

Input: an answer (``clean_samples.answer``), its chunk (``chunks.text``) and the language
(``documents.lang`` / ``chunks.lang``). Output: a score in [0, 1] plus, per answer sentence,
its content units, the ones the chunk lacks and its support.

Content units: English words minus function words, lightly stemmed ("encoded", "encoding" ->
"encod"), numbers kept (a changed number is a changed fact); Chinese: Han character bigrams
(there are no spaces to find words by, and bigrams of a paraphrase still overlap its source),
minus bigrams with a function character (的, 是, 了...). Latin terms inside Chinese text (SQL,
Cookie) are units too.

A sentence's support is the share of its units found in its best window of the chunk (three
consecutive chunk sentences): an answer stitched from words scattered over the whole chunk is
not supported by any one statement. A sentence about the chunk's code (every `backticked` name
it uses is in the chunk) is checked against the whole chunk, on its Latin words (code names,
keywords; minus the words every explanation of code uses, "function", "returns"...) and, at a
lower bar, its Chinese words: prose that explains a snippet shares few words with the code line
by line, and an invented name, call or claim is still caught.

The score is the unit-weighted share of answer sentences with support >= ``SENTENCE_SUPPORT``
(0.5) (long sentences weigh more than "Yes."), so one invented sentence among three correct
ones costs about a quarter.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from sftforge.cleaning.normalize import HAN, HAN_RE, normalize_text
from sftforge.text import split_sentences

SENTENCE_SUPPORT = 0.5  # calibrated: paraphrases 0.61-1.0, invented sentences 0.0-0.33
WINDOW = 3  # chunk sentences per window
CODE_HAN_SUPPORT = 0.15  # share of a code sentence's Chinese words the chunk must have
MIN_UNITS = 2  # sentences with fewer units carry no claim of their own ("Yes.", "是的。")

_EN_STOP = frozenset("""
a an the and or but if then else of to in on at by for with from into onto over under about as
is are was were be been being am do does did done has have had having can could may might must
shall should will would it its it's this that these those there here which who whom whose what
when where why how not no nor so than too very also just only such any all each every both
either neither some more most other another same own i you he she we they me him her us them my
your his our their one ones because while during before after above below up down out off again
further once whether via per e.g i.e etc using use used uses make makes made like within without
between through against among instead rather even still yet thus therefore hence however yes
""".split())
_ZH_STOP = frozenset("的了是在和与及或也都就而被把这那个之其着吗呢吧啊并且即从对为以于")
_HAN_RUN_RE = re.compile(f"[{HAN}]+")
_LATIN_RE = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_CODE_SPAN_RE = re.compile(r"`([^`\n]{1,120})`")
_SUFFIXES = ("ations", "ation", "ions", "ion", "ings", "ing", "ers", "er", "edly", "ed",
             "ies", "es", "s", "ly", "e")


def stem(word: str) -> str:
    """Light English stem: one common suffix off, then at most 6 letters ("validation",
    "validates" -> "valida"); numbers are kept whole."""
    if word.isdigit():
        return word
    for suf in _SUFFIXES:
        if word.endswith(suf) and len(word) - len(suf) >= 3:
            word = word[: -len(suf)]
            break
    return word[:6]


def content_units(text: str) -> set[str]:
    """Content units of ``text``: stemmed English content words, numbers, Han bigrams."""
    folded = normalize_text(text).casefold()
    units: set[str] = set()
    for run in _HAN_RUN_RE.findall(folded):
        if len(run) == 1:
            units.update(run if run not in _ZH_STOP else ())
        for a, b in zip(run, run[1:]):
            if a not in _ZH_STOP and b not in _ZH_STOP:
                units.add(a + b)
    for word in _LATIN_RE.findall(_HAN_RUN_RE.sub(" ", folded)):
        if word not in _EN_STOP and (len(word) > 1 or word.isdigit()):
            units.add(stem(word))
    return units


# Words of any explanation of code: what kind of thing a name is, not what the code does.
_CODE_TALK = frozenset(stem(w) for w in """
function method variable parameter argument call called return returns class string value
tuple list dict dictionary decorator module code snippet line define defines defined object
type keyword statement expression result named name's uses
""".split())


def code_anchored(sentence: str, chunk_text: str) -> bool:
    """True when ``sentence`` names code in backticks and every such name is in the chunk."""
    spans = [normalize_text(m).strip() for m in _CODE_SPAN_RE.findall(sentence)]
    text = normalize_text(chunk_text)
    return bool(spans) and all(span and span in text for span in spans)


@dataclass
class SentenceSupport:
    """How well the chunk supports one answer sentence."""

    sentence: str
    units: int
    missing: list[str]
    support: float  # share of units found in the best chunk window
    supported: bool


@dataclass
class Grounding:
    """Grounding of one answer: ``score`` in [0, 1] and the per-sentence detail."""

    score: float
    sentences: list[SentenceSupport] = field(default_factory=list)


def chunk_windows(chunk_text: str, size: int = WINDOW) -> list[set[str]]:
    """Units of each run of ``size`` consecutive sentences of the chunk (one window for a
    short chunk)."""
    per_sentence = [content_units(s) for s in split_sentences(chunk_text)] or [set()]
    if len(per_sentence) <= size:
        return [set().union(*per_sentence)]
    return [set().union(*per_sentence[i:i + size]) for i in range(len(per_sentence) - size + 1)]


def _share(units: set[str], pool: set[str]) -> float:
    return len(units & pool) / len(units) if units else 1.0


def code_support(sentence: str, units: set[str], chunk_units: set[str]) -> SentenceSupport:
    """Support of a sentence about the chunk's code, against all of the chunk's units: its
    Latin words (code names, keywords) at the usual bar, and its Chinese words, when the chunk
    has Chinese text, at ``CODE_HAN_SUPPORT``: Chinese prose about a snippet shares a few words
    with the comments and text around it (0.17-0.31 on the demo corpus), a Chinese claim the
    chunk never makes next to none (0.07)."""
    han = {u for u in units if HAN_RE.search(u)}
    latin = units - han - _CODE_TALK
    han_share = _share(han, chunk_units) if any(HAN_RE.search(u) for u in chunk_units) else 1.0
    han_support = han_share * SENTENCE_SUPPORT / CODE_HAN_SUPPORT  # the bar maps to 0.5
    support = min(_share(latin, chunk_units), han_support, 1.0)
    checked = latin | han
    return SentenceSupport(sentence=sentence, units=len(checked),
                           missing=sorted(checked - chunk_units), support=round(support, 3),
                           supported=support >= SENTENCE_SUPPORT)


def sentence_support(sentence: str, windows: list[set[str]],
                     chunk_text: str = "") -> SentenceSupport:
    """Support of one answer sentence by its best window (a sentence about the chunk's code:
    :func:`code_support`)."""
    units = content_units(sentence)
    if chunk_text and code_anchored(sentence, chunk_text):
        return code_support(sentence, units, set().union(*windows))
    best = max(windows, key=lambda w: len(units & w))
    found = units & best
    support = _share(units, best)
    return SentenceSupport(sentence=sentence, units=len(units), missing=sorted(units - found),
                           support=round(support, 3), supported=support >= SENTENCE_SUPPORT)


def grounding_detail(answer: str, chunk_text: str, lang: str = "") -> Grounding:
    """Score and per-sentence detail of ``answer`` against ``chunk_text``.

    ``lang`` is accepted for callers that know it; units are chosen per script, so mixed
    Chinese-English text needs no switch. An answer with no content unit scores 1.0 (there is
    no claim to check); sentences under ``MIN_UNITS`` units only count when all are that short.
    """
    windows = chunk_windows(chunk_text)
    detail = [sentence_support(s, windows, chunk_text) for s in split_sentences(answer)]
    claims = [d for d in detail if d.units >= MIN_UNITS] or [d for d in detail if d.units]
    total = sum(d.units for d in claims)
    if not total:
        return Grounding(score=1.0, sentences=detail)
    backed = sum(d.units for d in claims if d.supported)
    return Grounding(score=round(backed / total, 3), sentences=detail)


def grounding_score(answer: str, chunk_text: str, lang: str = "") -> float:
    """Grounding score in [0, 1] of ``answer`` against ``chunk_text`` (see the module)."""
    return grounding_detail(answer, chunk_text, lang).score


# Recommended sample threshold (drop reason ``ungrounded`` below it). On the calibration set
# (tests/unit/grounding_cases.py, demo corpus) supported answers scored 1.0 (EN 16, ZH 15),
# answers half invented 0.24-0.50, wholly invented 0.0 (EN 12, ZH 11).
MIN_GROUNDING = 0.6
