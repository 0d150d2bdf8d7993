"""clean stage: normalize text, scrub PII, and drop bad samples with a reason.

Reads ``samples`` (sample_id, doc_id, chunk_id, question, answer, cot, citations),
``documents`` (doc_id, lang) and ``chunks`` (chunk_id, text, heading_path); writes
``clean_samples`` (sample_id, question, answer, cot, citations, cot_reason, trimmed, kept,
reason, pii, flags, question_original, qtype, difficulty, planned_qtype, planned_difficulty,
fingerprint). ``citations`` is the JSON list of {quote, start, end} with every
quote PII-scrubbed (quotes are copied from the raw chunk): releases read it from here.

Per sample: ``clean_text`` (``sftforge.cleaning.normalize``) on each field, source hygiene
and the answer's unsupported tail cut (``trimmed``: the JSON list of cut sentences), statistics
on the cleaned text and the rule filters on them (``sftforge.cleaning.rules``, which lists the
drop reasons; mojibake is measured on the raw text, which NFKC would partly hide), then PII
scrubbing (``sftforge.cleaning.pii``) of every field, kept or dropped, so no clean text carries
PII. The sample rules (``sftforge.cleaning.sample_rules``: heading citations, vacuous answers,
questions without their subject, which are given one from the heading path when certain) run
after the filters, and the observed type and difficulty (``sftforge.cleaning.labels``) are
read off the final pair. ``prompt_injection`` comes from ``sftforge.cleaning.injection`` on
every generated field and every quote.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from functools import lru_cache
from pathlib import Path
from typing import Any, ClassVar

from sftforge import ids, store
from sftforge.cleaning import evidence, injection, labels, lexicon, normalize, pii, rules
from sftforge.cleaning import sample_rules, source_refs, subject, vacuous
from sftforge.cleaning.labels import observed_labels
from sftforge.cleaning.rules import FIELDS, CleanSettings, apply_filters, sample_stats
from sftforge.cleaning.sample_rules import apply_sample_rules, split_heading_path
from sftforge.grounding import cot as cot_module
from sftforge.grounding import score as score_module
from sftforge.grounding import trim as trim_module
from sftforge.grounding.cot import answer_hygiene, hygiene, question_hygiene
from sftforge.grounding.trim import trim_unsupported_tail
from sftforge.stage import BuildContext, CurationStage, StageStats


def clean_text(text: str | None) -> str:
    """Normalized ``text`` (NFKC, width, whitespace, control chars, hyphenation); no PII scrub."""
    return normalize.normalize_text(text)


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
                 chunk_text: str = "", heading_path: str = "") -> dict[str, Any]:
    """Clean one ``samples`` row (its chunk's text in ``chunk_text``, its heading path in
    ``heading_path``): {sample_id, question, answer, cot, citations, cot_reason, trimmed, kept,
    reason, pii, flags, question_original, qtype, difficulty, planned_qtype,
    planned_difficulty}.

    Text fields come back normalized and PII-scrubbed whether kept or not; ``pii`` is the JSON
    text of {kind: count} over the three fields; ``reason`` is "" for a kept sample. The sample
    rules run on a pair the filters kept; a question given its subject is stored rewritten,
    the original in ``question_original``. ``qtype``/``difficulty`` are the observed labels
    (``sftforge.cleaning.labels``), the plan's beside them.
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
    ruled = apply_sample_rules(cleaned["question"], cleaned["answer"], source=chunk_text,
                               citations=citations, heading_path=split_heading_path(heading_path),
                               settings=settings.sample_rules)
    reason = reason or ruled.reason
    cleaned["question"] = ruled.question
    qtype, difficulty = observed_labels(cleaned["question"], cleaned["answer"])
    found: Counter[str] = Counter()
    quotes = json.dumps(citations, ensure_ascii=False)
    cut = json.dumps(trimmed, ensure_ascii=False) if trimmed else ""
    original = ruled.rewritten_from
    if settings.scrub_pii:
        for f in FIELDS:
            cleaned[f], kinds = pii.scrub(cleaned[f])
            found.update(kinds)
        quotes, kinds = pii.scrub_citations(quotes)
        found.update(kinds)
        cut = pii.scrub(cut)[0]  # cut sentences left the answer: their PII is not counted
        original = pii.scrub(original)[0]
    return {
        "sample_id": row["sample_id"],
        **cleaned,
        "citations": quotes,
        "cot_reason": cot_reason,
        "trimmed": cut,
        "kept": not reason,
        "reason": reason,
        "pii": json.dumps(dict(sorted(found.items())), ensure_ascii=False),
        "flags": json.dumps(ruled.flags) if ruled.flags else "",
        "question_original": original,
        "qtype": qtype, "difficulty": difficulty,
        "planned_qtype": row.get("qtype") or "", "planned_difficulty": row.get("difficulty") or "",
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


_CODE_FILES = tuple(Path(m.__file__) for m in (
    rules, normalize, pii, injection, source_refs, cot_module, score_module, trim_module,
    sample_rules, evidence, subject, vacuous, lexicon, labels)) + (Path(__file__),)


@lru_cache(maxsize=1)
def _code_hash() -> str:
    # Rule changes must invalidate cached results even when the package version stays.
    return ids.sha256_text("".join(p.read_text(encoding="utf-8") for p in _CODE_FILES))[:16]


def clean_fingerprint(settings: CleanSettings) -> str:
    """Fingerprint of the clean stage: settings plus the code of its rules."""
    return ids.fingerprint("clean", rules=_code_hash(), **settings.model_dump())


def _read_batch(
    db_uri: str, sample_ids: list[str]
) -> tuple[list[dict[str, Any]], dict[str, str], dict[str, tuple[str, str]]]:
    """``samples`` rows of ``sample_ids``, the ``documents.lang`` of their documents and the
    ``chunks`` (text, heading_path) of their chunks."""
    cols = ["sample_id", "doc_id", "chunk_id", *FIELDS, "citations", "qtype", "difficulty"]
    rows = store.read(db_uri, "samples", where=store.sql_in("sample_id", sample_ids), columns=cols)
    doc_ids = sorted({d for d in rows["doc_id"].to_list() if d})
    where = store.sql_in("doc_id", doc_ids)
    docs = store.read(db_uri, "documents", where=where, columns=["doc_id", "lang"])
    langs = {d: lang or "" for d, lang in docs.iter_rows()}
    chunk_ids = sorted({c for c in rows["chunk_id"].to_list() if c})
    chunks = store.read(db_uri, "chunks", where=store.sql_in("chunk_id", chunk_ids),
                        columns=["chunk_id", "text", "heading_path"])
    return rows.to_dicts(), langs, {c: (t or "", h or "") for c, t, h in chunks.iter_rows()}


def clean_samples(
    db_uri: str, sample_ids: list[str], settings: CleanSettings, batch_size: int = 500
) -> dict[str, Any]:
    """Clean ``samples`` rows ``sample_ids`` into ``clean_samples`` (language from
    ``documents.lang``); returns {"in", "kept", "dropped": {reason: n}, "pii": {kind: n}}."""
    fp = clean_fingerprint(settings)
    dropped: Counter[str] = Counter()
    found: Counter[str] = Counter()
    flags: Counter[str] = Counter()
    n_in = kept = rewritten = 0
    ordered = sorted(set(sample_ids))
    for start in range(0, len(ordered), batch_size):
        rows, langs, chunks = _read_batch(db_uri, ordered[start:start + batch_size])
        out = [clean_sample(r, langs.get(r["doc_id"] or "", ""), settings,
                            *chunks.get(r["chunk_id"] or "", ("", ""))) for r in rows]
        for r in out:
            r["fingerprint"] = fp
            kept += r["kept"]
            dropped.update([r["reason"]] if r["reason"] else [])
            found.update(json.loads(r["pii"]))
            flags.update(json.loads(r["flags"] or "[]"))
            rewritten += bool(r["question_original"])
        store.upsert(db_uri, "clean_samples", out)
        n_in += len(out)
    return {
        "in": n_in,
        "kept": kept,
        "dropped": dict(sorted(dropped.items())),
        "pii": dict(sorted(found.items())),
        "flags": dict(sorted(flags.items())),
        "questions_rewritten": rewritten,
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
                          extra={"pii": stats["pii"], "flags": stats["flags"],
                                 "questions_rewritten": stats["questions_rewritten"]})

    def verdicts(self, ctx: BuildContext, sample_ids: list[str]) -> dict[str, str]:
        dropped = self._cleaned(ctx, sample_ids, kept=False)
        return dict(zip(dropped["sample_id"].to_list(), dropped["reason"].to_list()))
