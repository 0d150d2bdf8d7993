"""Per-sample statistics and the rule filters of the clean stage (``tasks/clean.py``).

As in data-juicer, statistics are computed first (``sample_stats``: lengths, scripts, mojibake,
think tags, refusal, pointers at an unseen source, repetition, how the answer ends) and
thresholds applied second (``CleanSettings``). As in datatrove, a filter returns ``True`` to
keep or ``(False, reason)``; ``apply_filters`` names the first failing one. Reasons:
``too_short``, ``too_long``, ``mojibake``, ``unbalanced_think``, ``refusal``,
``refers_to_source``, ``repeats_question``, ``wrong_language``, ``truncated``,
``prompt_injection``; then the sample rules (``sftforge.cleaning.sample_rules``):
``question_without_subject``, ``vacuous_answer``, ``heading_citation``.
"""

from __future__ import annotations

import re
from difflib import SequenceMatcher
from typing import Callable, Literal

from pydantic import BaseModel, Field

from sftforge.cleaning.normalize import (
    mojibake_hits,
    prose_of,
    refers_to_unseen_source,
    script_counts,
)
from sftforge.cleaning.sample_rules import SampleRuleSettings
from sftforge.grounding.score import content_units
from sftforge.text import estimate_tokens

FIELDS = ("question", "answer", "cot")
Verdict = Literal[True] | tuple[Literal[False], str]
Ending = Literal["finished", "open", "dangling"]


class CleanSettings(BaseModel):
    """Thresholds of the clean stage.

    Lengths are in ``sftforge.text.estimate_tokens`` units (one per CJK character, ~1.3 per
    English word), so one limit suits Chinese and English although Chinese needs far fewer
    characters for the same content. "Hi?" and "Yes." (3) are too short; "What port?" and
    "端口443" (4) are not.
    """

    min_question_tokens: int = 4
    max_question_tokens: int = 512
    min_answer_tokens: int = 4
    max_answer_tokens: int = 4096
    max_cot_tokens: int = 16384
    # Share of CJK characters among CJK characters + Latin words of the prose (code, URLs,
    # formulas removed). Chinese technical prose embeds many English terms (SQL, XSS, API
    # names) while English prose rarely embeds Chinese, hence the asymmetric limits.
    zh_min_cjk_share: float = 0.2
    en_max_cjk_share: float = 0.5
    lang_min_units: int = 6  # with fewer CJK chars + words the language rule abstains
    max_mojibake_hits: int = 0  # UTF-8 read as Latin-1/cp1252 sequences ("Ã©", "â€™")
    max_replacement_chars: int = 0  # U+FFFD
    # Letters of scripts unrelated to zh/en (Cyrillic, Arabic, kana...; Greek only as words,
    # so formula variables never count).
    max_foreign_share: float = 0.05
    min_foreign_letters: int = 4
    repeat_ratio: float = 0.9  # difflib ratio of normalized answer vs question
    # A one-line answer without final punctuation ("TCP 443") is fine; a longer one was cut off.
    truncation_min_tokens: int = 16
    scrub_pii: bool = True
    # Rewrite "the passage says ..." in answers and CoTs, drop CoTs that repeat the answer.
    source_hygiene: bool = True
    # Cut an answer's last sentences when its chunk supports none of them (sftforge.grounding.trim).
    trim_unsupported_tail: bool = True
    # Heading citations, vacuous answers, questions without their subject
    # (sftforge.cleaning.sample_rules), run after the filters above.
    sample_rules: SampleRuleSettings = Field(default_factory=SampleRuleSettings)


class SampleStats(BaseModel):
    """Everything the filters look at, computed once per sample."""

    question_tokens: int
    answer_tokens: int
    cot_tokens: int
    question_scripts: dict[str, int]
    answer_scripts: dict[str, int]
    mojibake_hits: int
    replacement_chars: int
    think_balanced: bool
    refusal: bool
    unseen_source: bool = False
    repeat_ratio: float
    ending: Ending
    finish_reason: str = ""
    injection: bool = False  # a field or quote addresses a model or reviewer


# --- statistics ----------------------------------------------------------------------------

_REFUSAL_ANYWHERE = re.compile(
    r"\bas an? (?:ai|artificial intelligence|(?:large )?language model|llm|ai (?:language )?"
    r"model|ai assistant)\b|\bi(?:'m| am) (?:just |only )?an? (?:ai|(?:large )?language model)\b"
    r"|作为(?:一个|一名)?(?:ai|人工智能|(?:大)?语言模型)|我(?:只)?是(?:一个)?(?:ai|人工智能|(?:大)?语言模型)",
    re.IGNORECASE,
)
_REFUSAL_OPENING = re.compile(
    r"^\W*(?:i'?m sorry|i am sorry|sorry|unfortunately|i apologi[sz]e)\b[^.!?\n]{0,60}?"
    r"\bI(?: can ?not| can't| am unable| am not able|'m unable|'m not able)\b"
    r"|\bi (?:cannot|can't|can not|am unable to|am not able to|won't) (?:help|assist|provide|"
    r"answer|comply|fulfill|share|determine)"
    r"|\b(?:the )?(?:provided |given )?(?:context|text|passage|document|excerpt|source)s? "
    r"(?:does|do) not (?:contain|mention|provide|include|specify|say)"
    r"|(?:抱歉|对不起|很遗憾)[，,]?\s*我(?:无法|不能|没办法)|我(?:无法|不能)(?:回答|提供|协助|帮助|满足)"
    r"|(?:上下文|文本|文档|原文|材料|资料|文中|段落)中?并?(?:没有|未)(?:提及|提到|提供|包含|说明|给出)",
    re.IGNORECASE,
)


def is_refusal(answer: str) -> bool:
    """True for "as an AI" anywhere, or an apology / "cannot" / "not in the context" opening."""
    return bool(_REFUSAL_ANYWHERE.search(answer) or _REFUSAL_OPENING.search(answer[:200]))


_NON_ALNUM_RE = re.compile(r"[\W_]+")


def _adds_nothing(question: str, answer: str) -> bool:
    """True when the answer's content units (grounding's: content words, Han bigrams) are at
    least two and all in the question: a tautology, not an answer ("Yes." is left alone)."""
    units = content_units(answer)
    return len(units) >= 2 and units <= content_units(question)


def repeat_ratio(question: str, answer: str) -> float:
    """difflib similarity of answer and question on lowercase letters and digits (1.0: a copy;
    an answer contained in the question and at least half as long counts as a copy, and so does
    an answer with no content word of its own: "Encoding on output is the purpose of encoding
    on output." to "What is the purpose of encoding on output?")."""
    q = _NON_ALNUM_RE.sub("", question.lower())
    a = _NON_ALNUM_RE.sub("", answer.lower())
    if not q or not a:
        return 0.0
    if a == q or (a in q and len(a) >= 0.5 * len(q)) or _adds_nothing(question, answer):
        return 1.0
    # Length alone bounds the ratio; below 0.5 that bound is returned instead of matching.
    bound = 2 * min(len(q), len(a)) / (len(q) + len(a))
    if bound < 0.5:
        return bound
    return SequenceMatcher(None, q, a, autojunk=False).ratio()


_THINK_TAG_RE = re.compile(r"<(/?)think>", re.IGNORECASE)


def think_tags_balanced(text: str) -> bool:
    """True when every ``<think>`` is closed by a later ``</think>`` and nothing else closes."""
    depth = 0
    for m in _THINK_TAG_RE.finditer(text):
        depth += -1 if m.group(1) else 1
        if depth < 0:
            return False
    return depth == 0


_FENCE_LINE_RE = re.compile(r"^[ \t]{0,3}(```|~~~)", re.MULTILINE)
# List item, heading, quote or table row; or a display formula's closing line.
_STRUCTURED_LINE_RE = re.compile(
    r"^\s*(?:[-*+]|\d+[.)]|#{1,6}|\||>)\s|\|\s*$|^\s*(?:\$\$|\\\])"
)
_CLOSERS = "\"'”’」』)）]】》*_"
_TERMINAL = frozenset(".!?。！？…~～")
_DANGLING = frozenset(",，、:：;；-–—(（")


def ending_of(answer: str) -> Ending:
    """How ``answer`` ends: "finished", "open" (no final punctuation) or "dangling".

    "finished": final punctuation, or a code block, list item, table row, heading, formula,
    URL or inline code at the end. "dangling": inside an unclosed code block or on a comma,
    colon or dash - cut off whatever the length. "open" is fine for a one-phrase answer.
    """
    text = answer.rstrip()
    if not text:
        return "finished"
    if len(_FENCE_LINE_RE.findall(text)) % 2:
        return "dangling"
    last_line = text.splitlines()[-1]
    if _FENCE_LINE_RE.match(last_line) or _STRUCTURED_LINE_RE.search(last_line):
        return "finished"
    if text.endswith(("`", "$", "\\)", "\\]")) or re.search(r"https?://\S+$", text):
        return "finished"
    core = text.rstrip(_CLOSERS) or text
    if core[-1] in _TERMINAL:
        return "finished"
    return "dangling" if core[-1] in _DANGLING else "open"


def sample_stats(
    raw: dict[str, str], cleaned: dict[str, str], finish_reason: str = ""
) -> SampleStats:
    """Statistics of one sample; ``raw`` and ``cleaned`` map question/answer/cot to text."""
    q, a, c = (cleaned[f] for f in FIELDS)
    raw_all = "\n".join(raw[f] for f in FIELDS)
    return SampleStats(
        question_tokens=estimate_tokens(q),
        answer_tokens=estimate_tokens(a),
        cot_tokens=estimate_tokens(c),
        question_scripts=script_counts(prose_of(q)),
        answer_scripts=script_counts(prose_of(a)),
        mojibake_hits=mojibake_hits(raw_all),
        replacement_chars=raw_all.count("\ufffd"),
        think_balanced=all(think_tags_balanced(t) for t in (q, a, c)),
        refusal=is_refusal(a),
        unseen_source=refers_to_unseen_source(q),
        repeat_ratio=repeat_ratio(q, a),
        ending=ending_of(a),
        finish_reason=finish_reason or "",
    )


# --- filters: statistics + settings -> True or (False, reason) ----------------------------

Filter = Callable[[SampleStats, CleanSettings, str], Verdict]


def injection_filter(st: SampleStats, cfg: CleanSettings, lang: str) -> Verdict:
    """Drop samples whose question, answer, CoT or quotes carry an instruction to a model."""
    return (False, "prompt_injection") if st.injection else True


def length_filter(st: SampleStats, cfg: CleanSettings, lang: str) -> Verdict:
    """Drop empty-ish questions/answers and overlong ones."""
    if st.answer_tokens < cfg.min_answer_tokens or st.question_tokens < cfg.min_question_tokens:
        return False, "too_short"
    if (st.answer_tokens > cfg.max_answer_tokens or st.question_tokens > cfg.max_question_tokens
            or st.cot_tokens > cfg.max_cot_tokens):
        return False, "too_long"
    return True


def mojibake_filter(st: SampleStats, cfg: CleanSettings, lang: str) -> Verdict:
    """Drop text decoded with the wrong codec or sprinkled with letters of unrelated scripts."""
    if st.mojibake_hits > cfg.max_mojibake_hits or st.replacement_chars > cfg.max_replacement_chars:
        return False, "mojibake"
    if lang not in ("zh", "en", ""):
        return True  # another language's own script is not foreign to it
    for sc in (st.question_scripts, st.answer_scripts):
        foreign = sc["foreign"]
        if foreign >= cfg.min_foreign_letters and foreign > cfg.max_foreign_share * sc["letters"]:
            return False, "mojibake"
    return True


def think_filter(st: SampleStats, cfg: CleanSettings, lang: str) -> Verdict:
    """Drop samples with an unclosed or stray ``<think>`` tag in any field."""
    return True if st.think_balanced else (False, "unbalanced_think")


def refusal_filter(st: SampleStats, cfg: CleanSettings, lang: str) -> Verdict:
    """Drop "as an AI" / "I cannot help" / "the context does not mention" answers."""
    return (False, "refusal") if st.refusal else True


def self_contained_filter(st: SampleStats, cfg: CleanSettings, lang: str) -> Verdict:
    """Drop questions that point at "the passage": the trained model's user has none."""
    return (False, "refers_to_source") if st.unseen_source else True


def repeat_filter(st: SampleStats, cfg: CleanSettings, lang: str) -> Verdict:
    """Drop answers that only restate the question."""
    return (False, "repeats_question") if st.repeat_ratio >= cfg.repeat_ratio else True


def cjk_share(sc: dict[str, int], min_units: int) -> float | None:
    """CJK characters / (CJK characters + Latin words); ``None`` with too little prose."""
    units = sc["cjk"] + sc["latin_words"]
    return sc["cjk"] / units if units >= min_units else None


def language_filter(st: SampleStats, cfg: CleanSettings, lang: str) -> Verdict:
    """Drop questions/answers not written in the document's language (zh/en only)."""
    for sc in (st.question_scripts, st.answer_scripts):
        share = cjk_share(sc, cfg.lang_min_units)
        if share is None:
            continue
        if (lang == "zh" and share < cfg.zh_min_cjk_share) or (
            lang == "en" and share > cfg.en_max_cjk_share
        ):
            return False, "wrong_language"
    return True


def truncation_filter(st: SampleStats, cfg: CleanSettings, lang: str) -> Verdict:
    """Drop answers cut off by the generator (mid-sentence, inside code, finish_reason=length)."""
    if st.finish_reason == "length" or st.ending == "dangling":
        return False, "truncated"
    if st.ending == "open" and st.answer_tokens >= cfg.truncation_min_tokens:
        return False, "truncated"
    return True


# Order decides which reason a sample with several problems is counted under: the most
# specific diagnosis first (mojibake'd Chinese would otherwise read as "wrong_language").
FILTERS: tuple[Filter, ...] = (
    injection_filter, length_filter, mojibake_filter, think_filter, refusal_filter, self_contained_filter,
    repeat_filter, language_filter, truncation_filter,
)


def apply_filters(st: SampleStats, cfg: CleanSettings, lang: str) -> str:
    """Reason of the first failing filter, or ``""`` when the sample is kept."""
    for f in FILTERS:
        verdict = f(st, cfg, lang)
        if verdict is not True:
            return verdict[1]
    return ""
