"""select_chunks stage: ``chunks`` -> ``chunk_selection``; only substantive chunks get questions.

Every chunk gets a kind (body, front_matter, toc, licence, acknowledgements, references, index,
author_notes, boilerplate) and a substance score (0..1), read from layout and text: the section
titles it sits under (English and Chinese, ``sftforge.chunk_kinds.headings``), dot leaders,
citation and index lines, licence/thanks/biography wording near the ends of the document
(``sftforge.chunk_kinds.signals``), and paragraphs repeated across documents (boilerplate).
A chunk is split into the sections its heading lines open; the kind covering most of its text
wins, so a foreword paragraph at the top of a body chunk does not drop the chunk.

Selected: body (plus ``keep_kinds``) with ``substance >= min_substance``, then ``force_in`` /
``force_out`` by chunk id or ``file.pdf:3-5`` page range (ids beat ranges; out beats in).
Scores and kinds are stored apart from the decision, so the card can show every skip reason.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any, ClassVar

import polars as pl
from pydantic import BaseModel, Field, field_validator

from sftforge import ids, store
from sftforge.chunk_kinds import Kind, signals
from sftforge.chunk_kinds.headings import region_allows, title_kind
from sftforge.stage import BuildContext, Stage, StageStats
from sftforge.text import estimate_tokens

RULES_VERSION = 1  # bump when a rule changes: it is part of the fingerprint
_HEADING_LINE = re.compile(r"^(#{1,6}) (.+)$")
_CHUNK_ID = re.compile(r"^[0-9a-f]{16}$")
_PAGE_RULE = re.compile(r"^(?P<name>.+):(?P<pages>\d+(?:-\d+)?(?:,\d+(?:-\d+)?)*)$")


class ChunkSelectionSettings(BaseModel):
    """Which chunks get questions. Body chunks are always kept unless forced out or too thin."""

    enabled: bool = Field(True, description="False: every chunk gets questions (no selection)")
    keep_kinds: list[Kind] = Field(default_factory=list,
                                   description="Kinds kept anyway, e.g. ['licence']")
    force_in: list[str] = Field(default_factory=list,
                                description="Chunk ids or 'file.pdf:3-5' page ranges to keep")
    force_out: list[str] = Field(default_factory=list,
                                 description="Chunk ids or 'file.pdf:1-2' page ranges to skip")
    min_substance: float = Field(0.3, ge=0, le=1, description="Lowest substance score kept")
    front_share: float = Field(0.15, ge=0, le=1, description="Share of pages that is 'front'")
    back_share: float = Field(0.25, ge=0, le=1, description="Share of pages that is 'back'")
    boilerplate_min_docs: int = Field(2, ge=2, description="Documents a paragraph must be in")
    min_body_tokens: int = Field(100, ge=0, description="Body tokens that keep a mixed chunk")

    @field_validator("force_in", "force_out")
    @classmethod
    def _check_rules(cls, rules: list[str]) -> list[str]:
        for rule in rules:
            if not (_CHUNK_ID.match(rule) or _PAGE_RULE.match(rule)):
                raise ValueError(
                    f"chunk selection rule {rule!r} is neither a chunk id (16 hex digits) nor "
                    "'file name:pages' such as 'report.pdf:3-5' or 'book.pdf:1,4-6'")
        return rules


def selection_fingerprint(settings: ChunkSelectionSettings) -> str:
    """Fingerprint of the rules and settings that decide ``chunk_selection`` rows."""
    return ids.fingerprint("select_chunks", rules=RULES_VERSION, **settings.model_dump(mode="json"))


# ---------------------------------------------------------------- document context

@dataclass(frozen=True)
class ChunkContext:
    """What a chunk's kind depends on beyond its own text: where it sits in its document,
    the heading stack it continues (from earlier chunks), the document's boilerplate."""

    front: bool  # within the first pages (or chunks) of the document
    back: bool  # within the last pages (or chunks)
    headings: tuple[tuple[int, str], ...] = ()  # (level, title) open when the chunk starts
    boilerplate: frozenset[str] = frozenset()  # paragraph keys repeated across documents


def paragraph_key(paragraph: str) -> str | None:
    """Key of a paragraph for cross-document repetition (case, spacing, digits and punctuation
    folded); None for paragraphs too short to call boilerplate."""
    norm = re.sub(r"[\W\d_]+", "", paragraph.lower())
    return ids.sha256_text(norm)[:16] if len(norm) >= 24 else None


def _paragraphs(text: str) -> list[str]:
    """Paragraphs of chunk text without its heading lines (as sections see them)."""
    text = "\n".join(ln for ln in text.splitlines() if not _HEADING_LINE.match(ln))
    return [p.strip() for p in re.split(r"\n\s*\n", text) if p.strip()]


def repeated_paragraphs(texts_by_doc: dict[str, list[str]], min_docs: int) -> dict[str, frozenset[str]]:
    """doc_id -> keys of its paragraphs found in ``min_docs``+ documents. A document sharing
    most of its paragraphs with others is a copy (dedup's business), not boilerplate: none."""
    keys = {d: {k for t in texts for p in _paragraphs(t) if (k := paragraph_key(p))}
            for d, texts in texts_by_doc.items()}
    docs_with = Counter(k for ks in keys.values() for k in ks)
    out = {}
    for doc_id, ks in keys.items():
        shared = frozenset(k for k in ks if docs_with[k] >= min_docs)
        out[doc_id] = shared if len(shared) <= 0.5 * len(ks) else frozenset()
    return out


def document_contexts(chunks: list[dict[str, Any]], n_pages: int, settings: ChunkSelectionSettings,
                      boilerplate: frozenset[str] = frozenset()) -> list[ChunkContext]:
    """Contexts of one document's ``chunks`` (dicts with idx, text, page_start, page_end), in
    order. Position is by page; one-page documents (Markdown, text) use chunk order instead."""
    chunks = sorted(chunks, key=lambda c: c["idx"])
    by_page = n_pages >= 3
    total = n_pages if by_page else len(chunks)
    # at least the first/last two pages: a title page alone fills one in a short report
    least = 2 if by_page else 1
    front_last = max(least, round(settings.front_share * total))
    back_first = total - max(least, round(settings.back_share * total)) + 1
    out, stack = [], ()
    for i, c in enumerate(chunks):
        start, end = (c["page_start"], c["page_end"]) if by_page else (i + 1, i + 1)
        out.append(ChunkContext(front=start <= front_last, back=end >= back_first,
                                headings=stack, boilerplate=boilerplate))
        stack = split_sections(c["text"], stack)[1]
    return out


# ---------------------------------------------------------------- classification

@dataclass
class Section:
    """The part of a chunk under one heading stack."""

    headings: tuple[tuple[int, str], ...]
    lines: list[str]  # stripped; "" where a paragraph ends

    @property
    def text(self) -> str:
        return "\n".join(self.lines).strip()

    @property
    def content(self) -> list[str]:
        return [ln for ln in self.lines if ln]


def split_sections(text: str, stack: tuple[tuple[int, str], ...]
                   ) -> tuple[list[Section], tuple[tuple[int, str], ...]]:
    """Cut chunk text at its Markdown heading lines; returns the sections and the heading stack
    open at the end (the next chunk continues under it)."""
    sections = [Section(stack, [])]
    for line in text.splitlines():
        m = _HEADING_LINE.match(line)
        if m:
            level = len(m.group(1))
            stack = tuple(h for h in stack if h[0] < level) + ((level, m.group(2).strip()),)
            sections.append(Section(stack, []))
        else:
            sections[-1].lines.append(line.strip())
    return [s for s in sections if s.content], stack


def _heading_kind(sec: Section, ctx: ChunkContext) -> tuple[str, str] | None:
    """Kind named by the deepest title of the section's stack that names one."""
    for _, title in reversed(sec.headings):
        kind = title_kind(title)
        if kind == "body":  # "Introduction" under "Front matter" is body
            return None
        if kind and region_allows(kind, ctx.front, ctx.back):
            return kind, f'heading "{title}"'
    return None


def _text_kind(sec: Section, ctx: ChunkContext) -> tuple[str, str] | None:
    """Kind the section's own text reads as (strong signals only)."""
    ends, text = ctx.front or ctx.back, sec.text
    lines = sec.content
    for kind, hit in (("toc", signals.toc_signal(lines)),
                      ("references", signals.references_signal(lines)),
                      ("index", signals.index_signal(lines, ctx.back)),
                      ("licence", signals.licence_signal(text, ends)),
                      ("author_notes", signals.bio_signal(text, ends)),
                      ("acknowledgements", signals.thanks_signal(_paragraphs(text), ends))):
        if hit:
            return kind, hit
    return None


def _section_votes(sec: Section, ctx: ChunkContext) -> list[tuple[str, str, int]]:
    """(kind, why, tokens) for the section: boilerplate paragraphs apart, the rest by
    heading, then by text."""
    votes, rest = [], []
    for para in _paragraphs(sec.text):
        if paragraph_key(para) in ctx.boilerplate:
            votes.append(("boilerplate", "paragraph repeated in other documents",
                          estimate_tokens(para)))
        else:
            rest.append(para)
    if rest:
        body = Section(sec.headings, "\n\n".join(rest).splitlines())
        kind, why = _heading_kind(body, ctx) or _text_kind(body, ctx) or ("body", "")
        votes.append((kind, why, estimate_tokens(body.text)))
    return votes


def classify_chunk(chunk: dict[str, Any], context: ChunkContext,
                   min_body_tokens: int = 100) -> tuple[str, float, str]:
    """(kind, substance, reason) of one ``chunks`` row (text is what is read). The non-body
    kinds must cover more than half of the tokens, and the body part must be under
    ``min_body_tokens`` (enough body to ask about keeps a mixed chunk); else it is body."""
    sections, _ = split_sections(chunk["text"], context.headings)
    votes = [v for s in sections for v in _section_votes(s, context)]
    prose = "\n".join(s.text for s in sections)
    score = signals.substance(prose)
    total = sum(n for _, _, n in votes) or 1
    share = Counter()
    for kind, _, n in votes:
        share[kind] += n
    matter = [(n, k) for k, n in share.items() if k != "body"]
    if matter and sum(n for n, _ in matter) > total / 2 and share["body"] < min_body_tokens:
        kind = max(matter)[1]
        why = max((v for v in votes if v[0] == kind), key=lambda v: v[2])[1]
        return kind, score, f"{kind}: {why} ({share[kind] * 100 // total}% of the text)"
    return "body", score, "body"


# ---------------------------------------------------------------- decision

def _page_rule(rule: str) -> tuple[str, list[tuple[int, int]]] | None:
    m = _PAGE_RULE.match(rule)
    if not m or _CHUNK_ID.match(rule):
        return None
    spans = [(int(a), int(b or a)) for a, _, b in
             (part.partition("-") for part in m.group("pages").split(","))]
    return m.group("name"), spans


def _rule_matches(rule: str, chunk: dict[str, Any]) -> bool:
    if _CHUNK_ID.match(rule):
        return rule == chunk["chunk_id"]
    name, spans = _page_rule(rule) or ("", [])
    return name.rsplit("/", 1)[-1] == chunk["source"] and any(
        a <= chunk["page_end"] and chunk["page_start"] <= b for a, b in spans)


def forced(chunk: dict[str, Any], settings: ChunkSelectionSettings) -> tuple[bool, str] | None:
    """(keep, rule) when a force rule covers ``chunk``: a chunk id beats a page range, and
    within each, force_out beats force_in."""
    for by_id in (True, False):
        for keep, rules in ((False, settings.force_out), (True, settings.force_in)):
            for rule in rules:
                if bool(_CHUNK_ID.match(rule)) == by_id and _rule_matches(rule, chunk):
                    return keep, rule
    return None


def decide(chunk: dict[str, Any], kind: str, score: float, reason: str,
           settings: ChunkSelectionSettings) -> tuple[bool, str]:
    """(selected, reason). Reasons start with the key the card groups by: a kind,
    ``low_substance``, ``forced_out``; kept rows say ``body``, ``kept_kind``, ``forced_in``."""
    force = forced(chunk, settings)
    if force:
        return force[0], f"{'forced_in' if force[0] else 'forced_out'}: {force[1]} ({reason})"
    if not settings.enabled:
        return True, f"selection_off: {reason}"
    if kind != "body" and kind not in settings.keep_kinds:
        return False, reason
    if score < settings.min_substance:
        return False, f"low_substance: {score:.2f} < {settings.min_substance:.2f} ({reason})"
    return True, reason if kind == "body" else f"kept_kind: {reason}"


# ---------------------------------------------------------------- stage

_CHUNK_COLS = ["chunk_id", "doc_id", "source", "idx", "text", "page_start", "page_end"]


def _select_document(chunks: list[dict[str, Any]], n_pages: int, boilerplate: frozenset[str],
                     settings: ChunkSelectionSettings, fp: str) -> list[dict[str, Any]]:
    chunks = sorted(chunks, key=lambda c: c["idx"])
    rows = []
    for chunk, ctx in zip(chunks, document_contexts(chunks, n_pages, settings, boilerplate)):
        kind, score, why = classify_chunk(chunk, ctx, settings.min_body_tokens)
        selected, reason = decide(chunk, kind, score, why, settings)
        rows.append({"chunk_id": chunk["chunk_id"], "doc_id": chunk["doc_id"], "kind": kind,
                     "substance": score, "selected": selected, "reason": reason,
                     "fingerprint": fp})
    return rows


def select_chunks(db_uri: str, doc_ids: list[str], settings: ChunkSelectionSettings) -> dict[str, Any]:
    """Classify every ``chunks`` row of ``doc_ids`` and upsert ``chunk_selection`` (chunk_id,
    doc_id, kind, substance, selected, reason, fingerprint); rows of chunks that no longer
    exist are deleted. Boilerplate is counted over every document in ``chunks``. Returns
    {stage, in, kept, dropped: {reason key: n}, kinds: {kind: n}, unmatched_force, ...}."""
    started, fp = time.perf_counter(), selection_fingerprint(settings)
    frame = store.read(db_uri, "chunks", columns=_CHUNK_COLS)
    docs = store.read(db_uri, "documents", where=store.sql_in("doc_id", doc_ids),
                      columns=["doc_id", "n_pages"])
    pages = dict(zip(docs["doc_id"].to_list(), docs["n_pages"].to_list()))
    texts = {d: g["text"].to_list() for (d,), g in frame.group_by("doc_id")}
    boiler = repeated_paragraphs(texts, settings.boilerplate_min_docs)
    mine = frame.filter(frame["doc_id"].is_in(doc_ids))
    rows = [row for d in doc_ids for row in _select_document(
        mine.filter(mine["doc_id"] == d).to_dicts(), pages.get(d, 1),
        boiler.get(d, frozenset()), settings, fp)]
    store.upsert(db_uri, "chunk_selection", rows)
    store.delete(db_uri, "chunk_selection", f"{store.sql_in('doc_id', doc_ids)} AND NOT "
                 f"{store.sql_in('chunk_id', [r['chunk_id'] for r in rows])}")
    chunks = mine.to_dicts()
    unmatched = [r for r in settings.force_in + settings.force_out
                 if not any(_rule_matches(r, c) for c in chunks)]
    return {"stage": "select_chunks", "in": len(rows), "kept": sum(r["selected"] for r in rows),
            "dropped": dict(Counter(_key(r["reason"]) for r in rows if not r["selected"])),
            "kinds": dict(Counter(r["kind"] for r in rows)), "failed": 0, "llm_requests": 0,
            "unmatched_force": unmatched, "fingerprint": fp,
            "seconds": round(time.perf_counter() - started, 3)}


def _key(reason: str) -> str:
    return reason.split(":", 1)[0]


def _rows(db_uri: str, doc_ids: list[str], fingerprint: str | None) -> pl.DataFrame:
    where = store.sql_in("doc_id", doc_ids)
    if fingerprint:
        where += f" AND fingerprint = '{fingerprint}'"
    return store.read(db_uri, "chunk_selection", where=where)


def selected_chunk_ids(db_uri: str, doc_ids: list[str], fingerprint: str | None = None) -> set[str]:
    """Ids of the chunks of ``doc_ids`` selected under ``fingerprint`` (None: latest rows)."""
    rows = _rows(db_uri, doc_ids, fingerprint)
    return set(rows.filter(rows["selected"])["chunk_id"].to_list())


def skipped_by_reason(db_uri: str, doc_ids: list[str], fingerprint: str | None = None,
                      examples: int = 3) -> dict[str, dict[str, Any]]:
    """For the card: reason key -> {count, examples: [{source, page, text (first 60 chars)}]},
    most frequent first, from ``chunk_selection`` joined with ``chunks``."""
    rows = _rows(db_uri, doc_ids, fingerprint)
    rows = rows.filter(~rows["selected"])
    if rows.height == 0:
        return {}
    chunks = store.read(db_uri, "chunks", where=store.sql_in("chunk_id", rows["chunk_id"].to_list()),
                        columns=["chunk_id", "source", "idx", "page_start", "text"])
    joined = rows.join(chunks, on="chunk_id").sort(["source", "idx"])
    out: dict[str, dict[str, Any]] = {}
    for r in joined.to_dicts():
        entry = out.setdefault(_key(r["reason"]), {"count": 0, "examples": []})
        entry["count"] += 1
        if len(entry["examples"]) < examples:
            text = re.sub(r"^#+ .*\n?", "", r["text"], flags=re.M).strip()
            entry["examples"].append({"source": r["source"], "page": r["page_start"],
                                      "text": " ".join(text.split())[:60]})
    return dict(sorted(out.items(), key=lambda kv: -kv[1]["count"]))


class ChunkSelectStage(Stage):
    """``chunks`` (+ ``documents``) -> ``chunk_selection``: a kind, a substance score and a
    keep/skip decision with its reason per chunk; the questions stage reads only kept chunks.

    Runs over every document of the build each time: boilerplate is judged across the corpus,
    and it costs a fraction of a second per hundred chunks.
    """

    name: ClassVar[str] = "select_chunks"
    reads: ClassVar[tuple[str, ...]] = ("chunks", "documents")
    writes: ClassVar[str] = "chunk_selection"
    settings: ChunkSelectionSettings = Field(default_factory=ChunkSelectionSettings)

    def fingerprint(self, ctx: BuildContext) -> str:
        return selection_fingerprint(self.settings)

    def pending(self, ctx: BuildContext) -> list[dict[str, Any]]:
        return [{"doc_id": d} for d in ctx.doc_ids]

    def run(self, ctx: BuildContext, items: list[dict[str, Any]]) -> StageStats:
        stats = select_chunks(ctx.db_uri, [i["doc_id"] for i in items], self.settings)
        return StageStats(stage=self.name, items_in=stats["in"], kept=stats["kept"],
                          dropped=stats["dropped"], extra={
                              "kinds": stats["kinds"], "unmatched_force": stats["unmatched_force"]})

    def label(self, items: list[dict[str, Any]]) -> str:
        return f"{len(items)} documents"
