"""Chunk stage: ``documents`` (status "ok") -> ``chunks``.

Structure-aware: a table, code block or formula is never split (one larger than
``max_tokens`` becomes a chunk of its own); each chunk keeps its heading path ("A > B > C") and
page span; paragraphs split at sentence boundaries (English and CJK rules, sftforge.text);
each top-level section is cut into chunks of even size near ``target_tokens`` so no small
tail is left; chunks under ``min_tokens`` are merged into a neighbour, across a top-level
heading only when the section itself is that small. Sizes are sftforge.text.estimate_tokens.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any, ClassVar

from pydantic import Field

from sftforge import ids, store
from sftforge.settings import ChunkSettings
from sftforge.stage import BuildContext, Stage, StageStats
from sftforge.text import (
    TokenStats,
    cjk_share,
    concat_token_stats,
    detect_lang,
    estimate_tokens,
    split_sentences,
    token_stats,
    tokens_from_stats,
)
from tasks.ingest import INGEST_FINGERPRINT

_ATOMIC = ("table", "code", "formula")
_CODE_FENCE_RE = re.compile(r"```.*?```", re.S)


@dataclass
class Unit:
    """The smallest piece packing moves around: a block, a list item or a sentence."""

    text: str
    tokens: int
    page: int
    path: tuple[str, ...]
    section: int
    joiner: str  # put before this unit when it follows another in a chunk
    atomic: bool = False
    stats: TokenStats = (0, 0, 0)  # token_stats(text): a chunk's size is made from these

    @classmethod
    def of(cls, text: str, page: int, path: tuple[str, ...], section: int, joiner: str,
           atomic: bool = False) -> Unit:
        stats = token_stats(text)
        return cls(text, tokens_from_stats(stats), page, path, section, joiner, atomic, stats)


def chunk_fingerprint(settings: ChunkSettings, ingest_fingerprint: str) -> str:
    """Fingerprint of chunks cut with ``settings`` from a document parsed by ``ingest``."""
    return ids.fingerprint("chunk", **settings.model_dump(), ingest=ingest_fingerprint)


def chunk_blocks(blocks: list[dict], settings: ChunkSettings, lang: str) -> list[dict]:
    """Cut a document's blocks into chunks: [{text, heading_path, page_start, page_end,
    n_tokens}] in document order."""
    units = _units(blocks, settings, lang)
    chunks: list[list[Unit]] = []
    for section in _sections(units):
        chunks += _pack(section, settings)
    chunks = _merge_small(chunks, settings)
    stats = [_chunk_stats(c) for c in chunks]
    out = [_render(c, st) for c, st in zip(chunks, stats)]
    if settings.overlap_sentences > 0:
        _add_overlap(out, stats, chunks, settings, lang)
    return out


def _units(blocks: list[dict], settings: ChunkSettings, lang: str) -> list[Unit]:
    """Blocks -> units with heading paths; a heading is glued to the unit after it."""
    levels = [b.get("level", 1) for b in blocks if b["kind"] == "heading"]
    top = _section_level(levels)
    stack: list[tuple[int, str]] = []
    path: tuple[str, ...] = ()
    units: list[Unit] = []
    section, pending = 0, ""
    for b in blocks:
        if b["kind"] == "heading":
            level = b.get("level", 1)
            while stack and stack[-1][0] >= level:
                stack.pop()
            stack.append((level, b["text"]))
            path = tuple(t for _, t in stack)
            if level <= top:
                section += 1
                pending = ""  # headings of an empty section carry no content
            pending += "#" * min(level, 6) + " " + b["text"] + "\n"
            continue
        pieces = _block_units(b, settings, lang, path, section)
        if pieces and pending:
            first = pieces[0]  # pending ends in a newline: the stats just add up
            first.stats = concat_token_stats(token_stats(pending), "\n", first.stats, "")
            first.tokens = tokens_from_stats(first.stats)
            first.text = pending + first.text
            pending = ""
        units += pieces
    return units


def _section_level(levels: list[int]) -> int:
    """The top level chunks should not cross: the smallest level used 2+ times (a title
    that appears once does not count), else the smallest level."""
    counts = {lv: levels.count(lv) for lv in set(levels)}
    repeated = [lv for lv, n in counts.items() if n >= 2]
    return min(repeated or levels or [1])


def _block_units(b: dict, settings: ChunkSettings, lang: str, path: tuple[str, ...],
                 section: int) -> list[Unit]:
    page = int(b.get("page") or 1)
    kind = b["kind"]
    text = b["text"].strip("\n") if kind == "code" else b["text"].strip()  # keep indentation
    if not text.strip():
        return []
    if kind in _ATOMIC:
        body = f"```\n{text}\n```" if kind == "code" else text
        return [Unit.of(body, page, path, section, "\n\n", atomic=True)]
    unit = Unit.of(text, page, path, section, "\n\n")
    if unit.tokens <= settings.target_tokens:
        return [unit]
    if kind == "list":
        parts, joiner = text.split("\n"), "\n"
    else:
        parts, joiner = split_sentences(text), "" if _is_cjk(text, lang) else " "
    out = []
    for part in parts:
        for piece in _hard_split(part, settings.target_tokens, lang):
            out.append(Unit.of(piece, page, path, section, "\n\n" if not out else joiner))
    return out


def _is_cjk(text: str, lang: str) -> bool:
    return lang in ("zh", "ja", "ko") or cjk_share(text[:500]) > 0.3


def _hard_split(sentence: str, limit: int, lang: str) -> list[str]:
    """A sentence longer than ``limit`` tokens (run-on text, no punctuation) cut by words, or
    by characters in CJK text."""
    if estimate_tokens(sentence) <= limit:
        return [sentence]
    cjk = _is_cjk(sentence, lang)
    words = list(sentence) if cjk else sentence.split(" ")
    sep = "" if cjk else " "
    pieces, current, used = [], [], 0
    for w in words:
        cost = estimate_tokens(w) or 1
        if current and used + cost > limit:
            pieces.append(sep.join(current))
            current, used = [], 0
        current.append(w)
        used += cost
    if current:
        pieces.append(sep.join(current))
    return pieces


def _sections(units: list[Unit]) -> list[list[Unit]]:
    out: list[list[Unit]] = []
    for u in units:
        if not out or out[-1][-1].section != u.section:
            out.append([])
        out[-1].append(u)
    return out


def _pack(units: list[Unit], settings: ChunkSettings) -> list[list[Unit]]:
    """Cut one section into chunks of about ``total / ceil(total / target)`` tokens each."""
    total = sum(u.tokens for u in units)
    goal = total / max(1, math.ceil(total / settings.target_tokens))
    chunks: list[list[Unit]] = []
    current: list[Unit] = []
    used = 0
    for u in units:
        oversize = u.tokens > settings.max_tokens
        over = used + u.tokens > settings.max_tokens
        # even shares, with slack so one unit sticking out does not cost an extra chunk
        full = used + u.tokens > goal * 1.3 and used >= goal * 0.6
        if current and (oversize or over or full):
            chunks.append(current)
            current, used = [], 0
        current.append(u)
        used += u.tokens
        if oversize:
            chunks.append(current)
            current, used = [], 0
    if current:
        chunks.append(current)
    return chunks


def _merge_small(chunks: list[list[Unit]], settings: ChunkSettings) -> list[list[Unit]]:
    """Merge chunks under ``min_tokens`` into a neighbour that stays within ``max_tokens``:
    same section first, then across sections."""
    size = lambda c: sum(u.tokens for u in c)  # noqa: E731
    i = 0
    while i < len(chunks) and len(chunks) > 1:
        c = chunks[i]
        if size(c) >= settings.min_tokens:
            i += 1
            continue
        options = [j for j in (i - 1, i + 1) if 0 <= j < len(chunks)]
        fits = [j for j in options if size(chunks[j]) + size(c) <= settings.max_tokens]
        same = [j for j in fits if chunks[j][0].section == c[0].section]
        target = (same or fits or [None])[0]
        if target is None:
            i += 1
            continue
        chunks[target] = chunks[target] + c if target < i else c + chunks[target]
        del chunks[i]
        i = min(i, target)
    return chunks


def _chunk_stats(units: list[Unit]) -> TokenStats:
    """``token_stats`` of the text ``_render`` makes of ``units`` (joiners are whitespace or
    empty, so only a word running across an empty joiner needs care)."""
    stats, last = units[0].stats, units[0].text[-1:]
    for u in units[1:]:
        stats = concat_token_stats(stats, last, u.stats, (u.joiner or u.text)[:1])
        last = u.text[-1:] or u.joiner[-1:] or last
    return stats


def _render(units: list[Unit], stats: TokenStats) -> dict[str, Any]:
    text = units[0].text + "".join(u.joiner + u.text for u in units[1:])
    paths = [u.path for u in units]
    common = paths[0]
    for p in paths[1:]:
        n = 0
        while n < min(len(common), len(p)) and common[n] == p[n]:
            n += 1
        common = common[:n]
    pages = [u.page for u in units]
    return {"text": text, "heading_path": " > ".join(common), "page_start": min(pages),
            "page_end": max(pages), "n_tokens": tokens_from_stats(stats)}


def _add_overlap(out: list[dict], stats: list[TokenStats], chunks: list[list[Unit]],
                 settings: ChunkSettings, lang: str) -> None:
    """Start each chunk with the last sentences of the chunk before it in the same section,
    when that chunk ended in prose and the result stays within ``max_tokens``."""
    for i in range(1, len(out)):
        last, first = chunks[i - 1][-1], chunks[i][0]
        if last.atomic or first.atomic or last.section != first.section:
            continue
        tail = split_sentences(last.text.rpartition("\n")[2])[-settings.overlap_sentences:]
        joiner = "" if _is_cjk(last.text, lang) else " "
        overlap = joiner.join(tail)
        overlap_stats = token_stats(overlap)
        extra = tokens_from_stats(overlap_stats)
        if not overlap or out[i]["n_tokens"] + extra + 1 > settings.max_tokens:
            continue
        out[i]["text"] = overlap + "\n\n" + out[i]["text"]
        out[i]["n_tokens"] = tokens_from_stats(concat_token_stats(overlap_stats, "\n",
                                                                 stats[i], ""))
        out[i]["page_start"] = min(out[i]["page_start"], last.page)


# ---------------------------------------------------------------- stage

def chunk_document(doc_id: str, db_uri: str, settings: ChunkSettings) -> dict[str, Any]:
    """Read the ``documents`` row of ``doc_id``, write its ``chunks`` rows (chunk_id, doc_id,
    source, idx, text, heading_path, page_start, page_end, n_tokens, lang, fingerprint) and
    delete its chunks cut with another fingerprint. Returns {doc_id, chunks, chunk_ids}."""
    safe = doc_id.replace("'", "''")
    rows = store.read(db_uri, "documents", where=f"doc_id = '{safe}'").to_dicts()
    if not rows or rows[0]["status"] != "ok":
        store.delete(db_uri, "chunks", f"doc_id = '{safe}'")
        return {"doc_id": doc_id, "chunks": 0, "chunk_ids": []}
    doc = rows[0]
    fp = chunk_fingerprint(settings, doc["fingerprint"])
    chunks = chunk_blocks(json.loads(doc["blocks"]), settings, doc["lang"] or "")
    ocr_pages = dict(map(tuple, json.loads(doc.get("ocr_pages") or "[]")))
    out = []
    for idx, c in enumerate(chunks):
        prose = _CODE_FENCE_RE.sub("", c["text"])  # identifiers would make every listing "en"
        lang = detect_lang(prose) if estimate_tokens(prose) >= 20 else doc["lang"]
        out.append({**c, "chunk_id": ids.child_id(doc_id, fp, idx), "doc_id": doc_id,
                    "source": doc["source"], "idx": idx, "lang": lang, "fingerprint": fp,
                    **text_source(c["page_start"], c["page_end"], ocr_pages)})
    store.upsert(db_uri, "chunks", out)
    store.delete(db_uri, "chunks", f"doc_id = '{safe}' AND fingerprint != '{fp}'")
    return {"doc_id": doc_id, "chunks": len(out), "chunk_ids": [r["chunk_id"] for r in out]}


def text_source(first: int, last: int, ocr_pages: dict[int, float]) -> dict[str, Any]:
    """{text_source, ocr_confidence} of a chunk over pages ``first``..``last``, given the
    document's OCR'd pages {page: confidence}."""
    read = [ocr_pages[p] for p in range(first, last + 1) if p in ocr_pages]
    if not read:
        return {"text_source": "text_layer", "ocr_confidence": 0.0}
    source = "ocr" if len(read) == last - first + 1 else "mixed"
    return {"text_source": source, "ocr_confidence": round(sum(read) / len(read), 4)}


class ChunkStage(Stage):
    """``documents`` (blocks, lang) -> ``chunks``; one task run per pending document.

    A document is pending when it has no chunks cut with the current settings and parser.
    """

    name: ClassVar[str] = "chunk"
    reads: ClassVar[tuple[str, ...]] = ("documents",)
    writes: ClassVar[str] = "chunks"
    batch_size: ClassVar[int] = 1
    parallel_safe: ClassVar[bool] = True  # CPU-bound per document; may run in Dask processes
    settings: ChunkSettings = Field(default_factory=ChunkSettings)

    def fingerprint(self, ctx: BuildContext) -> str:
        return chunk_fingerprint(self.settings, INGEST_FINGERPRINT)

    def pending(self, ctx: BuildContext) -> list[dict[str, Any]]:
        """Documents without chunks cut from their current row: a document's fingerprint
        differs from the stage's when OCR read some of its pages (``tasks.ingest``)."""
        where = store.sql_in("doc_id", ctx.doc_ids)
        done = set(store.read(ctx.db_uri, "chunks", where=where,
                              columns=["doc_id", "fingerprint"]).iter_rows())
        docs = store.read(ctx.db_uri, "documents", columns=["doc_id", "source", "fingerprint"],
                          where=where).sort("doc_id").to_dicts()
        return [{"doc_id": d["doc_id"], "source": d["source"]} for d in docs
                if (d["doc_id"], chunk_fingerprint(self.settings, d["fingerprint"])) not in done]

    def run(self, ctx: BuildContext, items: list[dict[str, Any]]) -> StageStats:
        made = [chunk_document(i["doc_id"], ctx.db_uri, self.settings)["chunks"] for i in items]
        return StageStats(stage=self.name, items_in=len(items), kept=sum(made))

    def label(self, items: list[dict[str, Any]]) -> str:
        return ", ".join(i["source"] for i in items)
