"""clean stage: normalize text, scrub PII, and drop bad samples with a reason.

Reads ``samples`` (sample_id, doc_id, chunk_id, question, answer, cot, citations),
``documents`` (doc_id, lang) and ``chunks`` (chunk_id, text); writes ``clean_samples``
(sample_id, question, answer, cot, citations, cot_reason, trimmed, kept, reason, pii,
fingerprint). ``citations`` is the JSON list of {quote, start, end} with every
quote PII-scrubbed (quotes are copied from the raw chunk): releases read it from here.

Per sample: ``clean_text`` (``sftforge.cleaning.normalize``) on each field, source hygiene
and the answer's unsupported tail cut (``trimmed``: the JSON list of cut sentences),
statistics on the cleaned text (``sample_stats``; mojibake is measured on the raw text, which NFKC would partly hide), rule
filters on those statistics, then PII scrubbing (``sftforge.cleaning.pii``) of every field, kept or
dropped, so no clean text carries PII. As in datatrove, a filter returns ``True`` to keep or
``(False, reason)``; the first failing filter names the drop. As in data-juicer, statistics are
computed first and thresholds applied second. Reasons: ``too_short``, ``too_long``,
``mojibake``, ``unbalanced_think``, ``refusal``, ``repeats_question``, ``wrong_language``,
``truncated``, ``prompt_injection`` (``sftforge.cleaning.injection`` on every generated field
and every quote).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from difflib import SequenceMatcher
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, ClassVar, Literal

from pydantic import BaseModel

from sftforge import ids, store
from sftforge.cleaning import normalize
from sftforge.cleaning import injection, pii, source_refs
from sftforge.cleaning.normalize import (
    mojibake_hits,
    prose_of,
    refers_to_unseen_source,
    script_counts,
)
from sftforge.grounding import cot as cot_module
from sftforge.grounding import score as score_module
from sftforge.grounding import trim as trim_module
from sftforge.grounding.cot import answer_hygiene, hygiene, question_hygiene
from sftforge.grounding.score import content_units
from sftforge.grounding.trim import trim_unsupported_tail
from sftforge.stage import BuildContext, CurationStage, StageStats
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


def clean_text(text: str | None) -> str:
    """Normalized ``text`` (NFKC, width, whitespace, control chars, hyphenation); no PII scrub."""
    return normalize.normalize_text(text)


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


# --- one sample, then the stage ------------------------------------------------------------


def source_hygiene(cleaned: dict[str, str]) -> tuple[str, str]:
    """Rewrite, in place, question, answer and CoT sentences that lean on "the passage" / 原文
    into domain statements (``sftforge.grounding.cot``); returns (answer drop reason, CoT drop
    reason).

    A model trained on "The passage states that X" learns to reason about a passage it will
    never see; a CoT that only repeats its answer teaches nothing, so it is removed (the
    sample stays, without a CoT, its ``cot_reason`` saying why)."""
    cleaned["question"] = question_hygiene(cleaned["question"])
    answer = answer_hygiene(cleaned["answer"])
    if answer.action == "dropped":
        return answer.reason, ""
    cleaned["answer"] = answer.text
    cot = hygiene(cleaned["cot"], cleaned["answer"])
    cleaned["cot"] = cot.text
    return "", cot.reason if cot.action == "dropped" else ""


def trim_tail(cleaned: dict[str, str], chunk_text: str) -> list[str]:
    """Cut, in place, the cleaned answer's unsupported last sentences; returns them."""
    cut = trim_unsupported_tail(cleaned["answer"], chunk_text)
    cleaned["answer"] = cut.text
    return cut.removed


def clean_sample(row: dict[str, Any], doc_lang: str, settings: CleanSettings,
                 chunk_text: str = "") -> dict[str, Any]:
    """Clean one ``samples`` row (its chunk's text in ``chunk_text``): {sample_id, question,
    answer, cot, citations, cot_reason, trimmed, kept, reason, pii}.

    Text fields come back normalized and PII-scrubbed whether kept or not; ``pii`` is the JSON
    text of {kind: count} over the three fields; ``reason`` is "" for a kept sample.
    """
    raw = {f: row.get(f) or "" for f in FIELDS}
    cleaned = {f: clean_text(raw[f]) for f in FIELDS}
    answer_reason, cot_reason = source_hygiene(cleaned) if settings.source_hygiene else ("", "")
    trimmed = (trim_tail(cleaned, chunk_text) if settings.trim_unsupported_tail and chunk_text
               and not answer_reason else [])
    stats = sample_stats(raw, cleaned, str(row.get("finish_reason") or ""))
    citations = _citations(row)
    stats.injection = injection.suspected_injection(
        *cleaned.values(), *(str(c.get("quote") or "") for c in citations))
    lang = re.split(r"[-_]", (doc_lang or "").lower())[0]  # "zh-CN" -> "zh"
    reason = apply_filters(stats, settings, lang) or answer_reason
    found: Counter[str] = Counter()
    quotes = json.dumps(citations, ensure_ascii=False)
    cut = json.dumps(trimmed, ensure_ascii=False) if trimmed else ""
    if settings.scrub_pii:
        for f in FIELDS:
            cleaned[f], kinds = pii.scrub(cleaned[f])
            found.update(kinds)
        quotes, kinds = pii.scrub_citations(quotes)
        found.update(kinds)
        cut = pii.scrub(cut)[0]  # cut sentences left the answer: their PII is not counted
    return {
        "sample_id": row["sample_id"],
        **cleaned,
        "citations": quotes,
        "cot_reason": cot_reason,
        "trimmed": cut,
        "kept": not reason,
        "reason": reason,
        "pii": json.dumps(dict(sorted(found.items())), ensure_ascii=False),
    }


def _citations(row: dict[str, Any]) -> list[dict[str, Any]]:
    """The sample's quotes as a list of {quote, start, end}; unreadable JSON names the row."""
    text = row.get("citations") or "[]"
    try:
        items = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"samples row {row['sample_id']}: citations is not JSON ({exc}); "
                         "re-run the answers stage for this sample") from exc
    return [{"quote": i} if isinstance(i, str) else i for i in items or []]


_CODE_FILES = (Path(__file__), Path(normalize.__file__), Path(pii.__file__),
               Path(injection.__file__), Path(source_refs.__file__),
               Path(cot_module.__file__), Path(score_module.__file__), Path(trim_module.__file__))


@lru_cache(maxsize=1)
def _code_hash() -> str:
    # Rule changes must invalidate cached results even when the package version stays.
    return ids.sha256_text("".join(p.read_text(encoding="utf-8") for p in _CODE_FILES))[:16]


def clean_fingerprint(settings: CleanSettings) -> str:
    """Fingerprint of the clean stage: settings plus the code of its rules."""
    return ids.fingerprint("clean", rules=_code_hash(), **settings.model_dump())


def _read_batch(
    db_uri: str, sample_ids: list[str]
) -> tuple[list[dict[str, Any]], dict[str, str], dict[str, str]]:
    """``samples`` rows of ``sample_ids``, the ``documents.lang`` of their documents and the
    ``chunks.text`` of their chunks."""
    cols = ["sample_id", "doc_id", "chunk_id", *FIELDS, "citations"]
    rows = store.read(db_uri, "samples", where=store.sql_in("sample_id", sample_ids), columns=cols)
    doc_ids = sorted({d for d in rows["doc_id"].to_list() if d})
    where = store.sql_in("doc_id", doc_ids)
    docs = store.read(db_uri, "documents", where=where, columns=["doc_id", "lang"])
    langs = {d: lang or "" for d, lang in docs.iter_rows()}
    chunk_ids = sorted({c for c in rows["chunk_id"].to_list() if c})
    chunks = store.read(db_uri, "chunks", where=store.sql_in("chunk_id", chunk_ids),
                        columns=["chunk_id", "text"])
    return rows.to_dicts(), langs, {c: t or "" for c, t in chunks.iter_rows()}


def clean_samples(
    db_uri: str, sample_ids: list[str], settings: CleanSettings, batch_size: int = 500
) -> dict[str, Any]:
    """Clean ``samples`` rows ``sample_ids`` into ``clean_samples`` (language from
    ``documents.lang``); returns {"in", "kept", "dropped": {reason: n}, "pii": {kind: n}}."""
    fp = clean_fingerprint(settings)
    dropped: Counter[str] = Counter()
    found: Counter[str] = Counter()
    n_in = kept = 0
    ordered = sorted(set(sample_ids))
    for start in range(0, len(ordered), batch_size):
        rows, langs, texts = _read_batch(db_uri, ordered[start:start + batch_size])
        out = [clean_sample(r, langs.get(r["doc_id"] or "", ""), settings,
                            texts.get(r["chunk_id"] or "", "")) for r in rows]
        for r in out:
            r["fingerprint"] = fp
            kept += r["kept"]
            dropped.update([r["reason"]] if r["reason"] else [])
            found.update(json.loads(r["pii"]))
        store.upsert(db_uri, "clean_samples", out)
        n_in += len(out)
    return {
        "in": n_in,
        "kept": kept,
        "dropped": dict(sorted(dropped.items())),
        "pii": dict(sorted(found.items())),
    }


class CleanStage(CurationStage):
    """Candidates' ``samples`` -> ``clean_samples``; drops bad samples with a reason."""

    name: ClassVar[str] = "clean"
    reads: ClassVar[tuple[str, ...]] = ("samples", "documents", "chunks", "selection")
    writes: ClassVar[str] = "clean_samples"
    settings: CleanSettings = CleanSettings()

    def fingerprint(self, ctx: BuildContext) -> str:
        return clean_fingerprint(self.settings)

    def _cleaned(self, ctx: BuildContext, sample_ids: list[str], kept: bool | None = None) -> Any:
        where = f"fingerprint = '{ctx.fp(self.name)}' AND " + store.sql_in("sample_id", sample_ids)
        frame = store.read(ctx.db_uri, "clean_samples", where=where,
                           columns=["sample_id", "kept", "reason"])
        return frame if kept is None else frame.filter(frame["kept"] == kept)

    def pending(self, ctx: BuildContext) -> list[dict[str, Any]]:
        ids = self.candidates(ctx)
        done = set(self._cleaned(ctx, ids)["sample_id"].to_list()) if ids else set()
        return [{"sample_id": s} for s in ids if s not in done]

    def run(self, ctx: BuildContext, items: list[dict[str, Any]]) -> StageStats:
        stats = clean_samples(ctx.db_uri, [i["sample_id"] for i in items], self.settings)
        return StageStats(stage=self.name, items_in=stats["in"], kept=stats["kept"],
                          extra={"pii": stats["pii"]})

    def verdicts(self, ctx: BuildContext, sample_ids: list[str]) -> dict[str, str]:
        dropped = self._cleaned(ctx, sample_ids, kept=False)
        return dict(zip(dropped["sample_id"].to_list(), dropped["reason"].to_list()))
