"""Ingest stage: files -> ``documents`` table.

One row per input file, keyed by ``doc_id`` (sha256 of the bytes): ``status`` "ok" with the
parsed ``blocks`` (JSON list of {kind, text, page, level}) and ``toc`` (JSON [level, title,
page]), or "quarantined" with a ``reason`` that names the file, the problem and what to do.
For "ok" rows ``reason`` lists pages that were skipped (no text layer, garbled, OCR'd with
too low a confidence), or is empty. A bad file never stops the build.

OCR (docs/ocr.md): PDF pages without a usable text layer are OCR'd (``OcrSettings``); the row
says where its text came from (``text_source`` "text_layer" | "ocr" | "mixed", ``ocr_pages``
JSON [[page, confidence]], ``ocr_confidence``). A row that depended on OCR carries a
fingerprint with the OCR settings in it, so changing them re-reads only such files. Limits:
each file is parsed in a worker process (``sftforge.parsing.isolate``) under ``IngestLimits``
(bytes, pages, seconds); a file over one is quarantined with a reason naming the limit.

Screening (issue 11): text a reader cannot see (``sftforge.parsing.pdf_hidden``) never enters
``blocks``; ``hidden_spans`` counts it and ``hidden_sample`` keeps a few of its spans, PII-scrubbed
and with injection phrasings redacted. Blocks whose visible text addresses a model or reviewer
(``sftforge.cleaning.injection``) are left out too. ``flags`` (JSON list of {flag, detail}):
``hidden_text``, ``hidden_instructions`` (hidden text that reads as instructions: with
``quarantine_hidden_instructions`` the file is quarantined instead), ``prompt_injection``.
"""

from __future__ import annotations

import json
import re
from contextlib import ExitStack
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, ClassVar

import pymupdf
from pydantic import Field

from sftforge import ids, store
from sftforge.cleaning import injection, pii
from sftforge.parsing.epub import EpubError, read_epub
from sftforge.parsing import isolate
from sftforge.parsing.pdf import pdf_blocks, read_pdf_ocr
from sftforge.parsing.pdf_ocr import PageOcr
from sftforge.progress import track
from sftforge.settings import IngestLimits, OcrSettings
from sftforge.stage import BuildContext, Stage, StageStats
from sftforge.text import (
    Block,
    ParsedDocument,
    count_nonspace,
    detect_lang,
    garbled_share,
    markdown_blocks,
)

# Bump when parsing output changes for the same bytes: it is part of the ingest fingerprint.
# 2: own grid reader for irregular tables (was pymupdf find_tables); 3: hidden text left out;
# 4: clipped, squeezed and low-contrast PDF text and CSS-hidden EPUB text left out too
# 5: OCR of pages without a usable text layer, per-file limits
PARSER_VERSION = 5
INGEST_FINGERPRINT = ids.fingerprint("ingest", parser=PARSER_VERSION, pymupdf=pymupdf.VersionBind)
TEXT_SUFFIXES = {".md", ".markdown", ".txt"}
_MIN_PAGE_CHARS = 40
_GARBLED = 0.3  # share of broken characters that makes text unusable


class QuarantineError(Exception):
    """The file cannot be ingested; ``reason`` names the problem and what to do;
    ``needs_ocr``: the verdict depends on the OCR settings (image-only or garbled pages)."""

    def __init__(self, reason: str, needs_ocr: bool = False) -> None:
        super().__init__(reason, needs_ocr)
        self.reason = reason
        self.needs_ocr = needs_ocr


def ocr_fingerprint(ocr: OcrSettings) -> str:
    """Fingerprint of a document some of whose pages needed OCR, read under ``ocr``."""
    return ids.fingerprint("ingest", base=INGEST_FINGERPRINT, ocr=ocr.signature())


def limits_fingerprint(limits: IngestLimits, ocr: OcrSettings) -> str:
    """Fingerprint of a file quarantined for a per-file limit (new limits: tried again)."""
    return ids.fingerprint("ingest", base=INGEST_FINGERPRINT, ocr=ocr.signature(),
                           **limits.model_dump())


def current_fingerprints(ocr: OcrSettings, limits: IngestLimits) -> list[str]:
    """Fingerprints of ``documents`` rows that are up to date under these settings."""
    return [INGEST_FINGERPRINT, ocr_fingerprint(ocr), limits_fingerprint(limits, ocr)]


def supported(path: Path) -> bool:
    """True for files ingest reads: PDF, EPUB, Markdown, plain text."""
    return path.suffix.lower() in TEXT_SUFFIXES | {".pdf", ".epub"}


def parse_document(path: Path, ocr: OcrSettings | None = None, max_pages: int | None = None,
                   report: isolate.Event | None = None) -> ParsedDocument:
    """Parse one file into blocks; raises ``QuarantineError`` for files that cannot be used.
    PDF pages without a usable text layer are OCR'd when ``ocr`` is given and enabled
    (``report("pages", n)`` then ``report("page", 1)`` per page); a PDF of more than
    ``max_pages`` pages is quarantined."""
    path = Path(path)
    if path.stat().st_size == 0:
        raise QuarantineError(f"{path.name}: empty file (0 bytes); replace it with the real file.")
    suffix = path.suffix.lower()
    if suffix == ".pdf":
        return _parse_pdf(path, ocr or OcrSettings(enabled=False), max_pages, report)
    if suffix in TEXT_SUFFIXES:
        return _parse_text(path)
    if suffix == ".epub":
        return _parse_epub(path)
    raise QuarantineError(f"{path.name}: unsupported file type '{suffix}'; convert it to PDF, "
                          "EPUB, Markdown or .txt.")


def _parse_epub(path: Path) -> ParsedDocument:
    """A book: chapters as headings, ``page`` = chapter number (``sftforge.parsing.epub``)."""
    try:
        book = read_epub(path)
    except EpubError as exc:
        raise QuarantineError(str(exc)) from exc
    if not book.blocks:
        raise QuarantineError(f"{path.name}: no text could be extracted; check the file.")
    return ParsedDocument(title=_title(book.title, book.blocks, path), lang=_lang(book.blocks),
                          n_pages=book.chapters, toc=book.toc, blocks=book.blocks,
                          hidden=book.hidden)


# ---------------------------------------------------------------- PDF

def _parse_pdf(path: Path, ocr: OcrSettings, max_pages: int | None,
               report: isolate.Event | None) -> ParsedDocument:
    doc = _open_pdf(path)
    try:
        if max_pages and doc.page_count > max_pages:
            raise QuarantineError(
                f"{path.name}: {doc.page_count} pages, over the limit of {max_pages} pages per "
                "file (limits.max_pages); split the file, or raise SFTFORGE_LIMITS__MAX_PAGES.")
        pages, toc, done = read_pdf_ocr(doc, ocr, report)
        meta_title = (doc.metadata or {}).get("title") or ""
    finally:
        doc.close()
    notes = _check_pages(path.name, pages, done, ocr)
    blocks, toc = pdf_blocks(pages, toc)
    if not blocks:
        raise QuarantineError(f"{path.name}: no text could be extracted; check the file.")
    return ParsedDocument(
        title=_title(meta_title, blocks, path), lang=_lang(blocks), n_pages=len(pages),
        toc=toc, blocks=blocks, notes=notes,
        hidden=[(p.number, reason, text) for p in pages for reason, text in p.hidden],
        ocr=[vars(d) for d in done])


def _open_pdf(path: Path) -> pymupdf.Document:
    """Open a PDF; quarantines corrupt, encrypted, zero-page and truncated files."""
    name = path.name
    with open(path, "rb") as fh:
        head = fh.read(1024)
    if b"%PDF" not in head:  # mupdf would happily open HTML error pages saved as .pdf
        raise QuarantineError(
            f"{name}: not a PDF (no %PDF header; starts with {head[:16]!r}); the file is "
            "corrupt or mislabelled - re-download or re-export it.")
    try:
        doc = pymupdf.open(path, filetype="pdf")
    except Exception as exc:  # pymupdf raises several types for damaged bytes
        raise QuarantineError(
            f"{name}: not a readable PDF ({_first_line(exc)}); the file is corrupt - "
            "re-download or re-export it.") from exc
    problem = None
    if doc.needs_pass:
        problem = (f"{name}: encrypted, needs a password; save an unencrypted copy "
                   "(e.g. qpdf --password=... --decrypt in.pdf out.pdf) and add that instead.")
    elif doc.page_count == 0:
        problem = f"{name}: the PDF has zero pages; re-export it from its source."
    elif doc.is_repaired and not _has_eof_marker(path):
        problem = (f"{name}: truncated (the file ends before the PDF end marker; "
                   f"{doc.page_count} page(s) partly recoverable); re-download or copy the "
                   "complete file.")
    if problem:
        doc.close()
        raise QuarantineError(problem)
    return doc


def _has_eof_marker(path: Path) -> bool:
    with open(path, "rb") as fh:
        fh.seek(max(0, path.stat().st_size - 4096))
        return b"%%EOF" in fh.read()


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:120]


def _check_pages(name: str, pages: list, done: list[PageOcr], ocr: OcrSettings) -> list[str]:
    """Quarantine image-only and garbled PDFs; drop (with a note) single such pages. ``done``:
    the pages OCR'd (those under the confidence threshold have no text left)."""
    texts = [p.text() for p in pages]  # built once: the checks below all read it
    chars = [count_nonspace(t) for t in texts]
    text_pages = [i for i, c in enumerate(chars) if c >= _MIN_PAGE_CHARS]
    scanned = [i for i, c in enumerate(chars) if c < _MIN_PAGE_CHARS and pages[i].has_images]
    low = [d for d in done if not d.kept]
    if not text_pages or len(scanned) > 0.8 * len(pages):
        if scanned:
            raise QuarantineError(_image_only(name, len(scanned), len(pages), low, ocr), True)
        raise QuarantineError(f"{name}: no extractable text on any page; check the file.")
    share = {i: garbled_share(texts[i][:4000]) for i in text_pages}  # as PageLayout.garbled
    bad = [i for i in text_pages if share[i] >= _GARBLED]
    bad_chars = sum(chars[i] * share[i] for i in text_pages)
    if bad_chars >= _GARBLED * sum(chars[i] for i in text_pages) or len(bad) > len(text_pages) / 2:
        raise QuarantineError(
            f"{name}: garbled text layer ({len(bad)} of {len(text_pages)} text pages are mostly "
            "unreadable characters: fonts without Unicode maps, or mojibake); re-export the PDF "
            f"with embedded Unicode fonts, or {_ocr_hint(ocr)}.", True)
    for i in bad:
        pages[i].items = []
    low_pages = {d.page - 1 for d in low}
    notes = []
    if scanned := [i for i in scanned if i not in low_pages]:
        notes.append(f"pages {_ranges(scanned)}: no text layer (image only), skipped; "
                     f"{_ocr_hint(ocr)} to include them")
    if low:
        notes.append(f"pages {_ranges(sorted(low_pages))}: OCR confidence "
                     f"{_mean(d.confidence for d in low):.2f} under {ocr.min_confidence}, "
                     "left out (a poor scan; rescan at 300 dpi to include them)")
    if bad:
        notes.append(f"pages {_ranges(bad)}: garbled text, skipped")
    return notes


def _image_only(name: str, n_scanned: int, n_pages: int, low: list[PageOcr],
                ocr: OcrSettings) -> str:
    """Why an image-only PDF is quarantined: OCR is off, or what it read was too unsure."""
    head = f"{name}: image-only PDF ({n_scanned} of {n_pages} pages have no text layer, e.g. a scan)"
    if low:
        return (f"{head}; OCR read {len(low)} page(s) with a mean confidence of "
                f"{_mean(d.confidence for d in low):.2f}, under the threshold "
                f"{ocr.min_confidence} (ocr.min_confidence): too unsure to feed a model; rescan "
                "it (300 dpi, straight pages) or lower SFTFORGE_OCR__MIN_CONFIDENCE.")
    return f"{head}; it needs OCR: {_ocr_hint(ocr)}."


def _ocr_hint(ocr: OcrSettings) -> str:
    if ocr.enabled:
        return "OCR it"
    return ("turn OCR on (SFTFORGE_OCR__ENABLED=true, or enabled = true under [ocr] in "
            "sftforge.toml)")


def _mean(values: Any) -> float:
    values = list(values)
    return sum(values) / len(values) if values else 0.0


def _ranges(indices: list[int]) -> str:
    """0-based page indices as 1-based ranges: ``1-3, 7``."""
    spans: list[list[int]] = []
    for i in sorted(indices):
        if spans and spans[-1][1] == i:
            spans[-1][1] = i + 1
        else:
            spans.append([i + 1, i + 1])
    return ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in spans)


def _title(meta_title: str, blocks: list[Block], path: Path) -> str:
    meta_title = meta_title.strip()
    if meta_title and not re.search(r"\.(docx?|pptx?|tex|pdf|indd)$|^untitled", meta_title, re.I):
        return meta_title
    for b in blocks[:40]:
        if b["kind"] == "heading" and b["page"] <= 2 and len(b["text"]) >= 3:
            return b["text"]
    return path.stem


def _lang(blocks: list[Block]) -> str:
    return detect_lang(" ".join(b["text"] for b in blocks[:400] if b["kind"] != "code"))


# ---------------------------------------------------------------- Markdown / plain text

def _parse_text(path: Path) -> ParsedDocument:
    text = _decode(path)
    if not text.strip():
        raise QuarantineError(f"{path.name}: no text (only whitespace); check the file.")
    if garbled_share(text[:200000]) >= _GARBLED:
        raise QuarantineError(
            f"{path.name}: garbled text (mostly unreadable characters); save it as UTF-8.")
    blocks = markdown_blocks(text)
    if not blocks:
        raise QuarantineError(f"{path.name}: no text blocks found; check the file.")
    toc = [[b["level"], b["text"], b["page"]] for b in blocks if b["kind"] == "heading"]
    title = next((b["text"] for b in blocks if b["kind"] == "heading"), path.stem)
    return ParsedDocument(title=title, lang=_lang(blocks), n_pages=text.count("\f") + 1,
                          toc=toc, blocks=blocks)


def _decode(path: Path) -> str:
    """UTF-8 (with or without BOM), UTF-16 with BOM, or GB18030 (Chinese exports)."""
    data = path.read_bytes()
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return data.decode("utf-16")
    if b"\x00" in data[:4096]:
        raise QuarantineError(
            f"{path.name}: binary data, not text; give it the right extension or export text.")
    for codec in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(codec)
        except UnicodeDecodeError:
            continue
    raise QuarantineError(
        f"{path.name}: text is neither UTF-8 nor GB18030; re-save it as UTF-8.")


# ---------------------------------------------------------------- stage

def ingest_file(path: str, db_uri: str, quarantine_hidden_instructions: bool = False,
                ocr: OcrSettings | None = None,
                limits: IngestLimits | None = None) -> dict[str, Any]:
    """Parse ``path`` and upsert its ``documents`` row; returns {doc_id, path, status, reason,
    n_pages, n_blocks, hidden_spans, flags, ocr_pages}. Never raises for a bad, unreadable,
    too large or too slow file: it is quarantined (so is a file whose hidden text reads as
    instructions, when asked to). The parse runs in a worker process under ``limits``."""
    p = Path(path)
    ocr, limits = ocr or OcrSettings(), limits or IngestLimits()
    try:
        doc_id = ids.doc_id_for_file(p)
        size = p.stat().st_size
    except OSError as exc:
        doc_id = ids.sha256_text(f"unreadable:{p.resolve()}")[:ids.ID_LEN]
        reason = f"{p.name}: cannot read the file ({exc.strerror or exc}); check path and rights."
        return _write(db_uri, doc_id, p, None, reason)
    over = limits_fingerprint(limits, ocr)
    if size > limits.max_bytes:
        return _write(db_uri, doc_id, p, None, (
            f"{p.name}: {size / 1e6:.0f} MB, over the limit of {limits.max_bytes / 1e6:.0f} MB "
            "per file (limits.max_bytes); split the file, or raise SFTFORGE_LIMITS__MAX_BYTES."),
            fingerprint=over)
    try:
        parsed, flags, sample = _parse_isolated(p, ocr, limits, quarantine_hidden_instructions)
    except QuarantineError as exc:
        fp = ocr_fingerprint(ocr) if exc.needs_ocr else INGEST_FINGERPRINT
        return _write(db_uri, doc_id, p, None, exc.reason, fingerprint=fp)
    except isolate.Timeout as exc:
        return _write(db_uri, doc_id, p, None, (
            f"{p.name}: parsing took longer than {exc.seconds:.0f} s and was stopped "
            "(limits.seconds_per_file, plus limits.seconds_per_ocr_page per OCR'd page); split "
            "the file, or raise SFTFORGE_LIMITS__SECONDS_PER_FILE."), fingerprint=over)
    except Exception as exc:  # a parser bug or crash on one odd file must not stop the build
        reason = f"{p.name}: parser failed ({type(exc).__name__}: {_first_line(exc)}); report it."
        return _write(db_uri, doc_id, p, None, reason)
    fp = ocr_fingerprint(ocr) if parsed.ocr or _needed_ocr(parsed) else INGEST_FINGERPRINT
    return _write(db_uri, doc_id, p, parsed, "; ".join(parsed.notes), flags, sample, fp)


def _needed_ocr(parsed: ParsedDocument) -> bool:
    """True when pages were skipped that OCR (on, or with other settings) would read."""
    return any("no text layer" in n or "garbled" in n for n in parsed.notes)


def _parse_isolated(path: Path, ocr: OcrSettings, limits: IngestLimits, quarantine_hidden: bool
                    ) -> tuple[ParsedDocument, list[dict[str, str]], str]:
    """``parse_screened`` of ``path`` in a worker process under ``limits``, with a progress
    bar of the pages it OCRs."""
    with ExitStack() as bars:
        advance: list = []

        def on_event(event: str, n: int) -> None:
            if event == "pages":
                advance.append(bars.enter_context(track(f"OCR {path.name} (pages)", n)))
            elif event == "page" and advance:
                advance[-1](n)

        return isolate.call("tasks.ingest:parse_screened",
                            (str(path), ocr, limits.max_pages, quarantine_hidden),
                            limits.seconds_per_file, limits.seconds_per_ocr_page, on_event)


def parse_screened(path: str, ocr: OcrSettings, max_pages: int, quarantine_hidden: bool,
                   report: isolate.Event | None = None
                   ) -> tuple[ParsedDocument, list[dict[str, str]], str]:
    """What a worker process does for one file: ``parse_document``, ``screen`` and the safe
    sample of its hidden text (all of the per-file work, so the time limit covers it)."""
    p = Path(path)
    parsed = parse_document(p, ocr, max_pages, report)
    flags = screen(parsed, p.name, quarantine_hidden)
    return parsed, flags, hidden_sample(parsed.hidden)


def screen(parsed: ParsedDocument, name: str, quarantine_hidden: bool) -> list[dict[str, str]]:
    """Flags of a parsed document; drops its blocks that address a model (``prompt_injection``).
    Raises ``QuarantineError`` when hidden text reads as instructions and ``quarantine_hidden``."""
    flags = []
    if parsed.hidden:
        flags.append({"flag": "hidden_text", "detail": _hidden_detail(parsed.hidden)})
    orders = [h for h in parsed.hidden if injection.find_injections(h[2], hidden=True)]
    if orders:
        detail = (f"{len(orders)} hidden span(s) read as instructions to a model or reviewer "
                  f"(first on page {orders[0][0]}); they were left out")
        if quarantine_hidden:
            raise QuarantineError(f"{name}: {detail}; the file looks manipulated - check it, "
                                  "or turn off quarantine_hidden_instructions to ingest the rest.")
        flags.append({"flag": "hidden_instructions", "detail": detail})
    if meta := screen_metadata(parsed, name):
        flags.append(meta)
    # Neighbours screened together: an order split across two blocks flags both.
    flagged = set(injection.screen_blocks([b["text"] for b in parsed.blocks]))
    bad = [b for i, b in enumerate(parsed.blocks) if i in flagged]
    if bad:
        parsed.blocks = [b for b in parsed.blocks if b not in bad]
        flags.append({"flag": "prompt_injection", "detail": (
            f"{len(bad)} block(s) addressing a model or reviewer left out (first on page "
            f"{bad[0]['page']}: {_sample(bad[0]['text'], hidden=False)})")})
    return flags


def screen_metadata(parsed: ParsedDocument, name: str) -> dict[str, str] | None:
    """Screen, in place, the title (PDF/EPUB metadata) and the outline entries: both go into the
    domain-tree and GA prompts. A title that addresses a model becomes the file's stem; such
    outline entries are left out. Returns the flag, or None when nothing was found."""
    title_bad = injection.suspected_injection(parsed.title)
    if title_bad:
        parsed.title = Path(name).stem
    kept = [e for e in parsed.toc if not injection.suspected_injection(str(e[1]))]
    dropped, parsed.toc = len(parsed.toc) - len(kept), kept
    if not title_bad and not dropped:
        return None
    what = ["the title"] * title_bad
    what += [f"{dropped} outline entr{'y' if dropped == 1 else 'ies'}"] * bool(dropped)
    return {"flag": "prompt_injection_metadata",
            "detail": f"{' and '.join(what)} addressing a model left out"}


def _hidden_detail(hidden: list[tuple[int, str, str]]) -> str:
    """Counts per reason, e.g. "12 span(s) a reader cannot see, left out: covered 7, tiny 5"."""
    counts: dict[str, int] = {}
    for _, reason, _ in hidden:
        counts[reason] = counts.get(reason, 0) + 1
    return f"{len(hidden)} span(s) a reader cannot see, left out: " + ", ".join(
        f"{k} {n}" for k, n in sorted(counts.items()))


def _sample(text: str, hidden: bool, limit: int = 160) -> str:
    """``text`` safe for a card: injection phrasings redacted, PII scrubbed, shortened."""
    return pii.scrub(injection.redact(text, hidden))[0][:limit]


def hidden_sample(hidden: list[tuple[int, str, str]], n: int = 3) -> str:
    """Up to ``n`` distinct hidden spans as "p<page> <reason>: <text>" lines, made safe."""
    seen: dict[str, str] = {}
    for page, reason, text in hidden:
        if text not in seen and len(seen) < n:
            seen[text] = f"p{page} {reason}: {_sample(text, hidden=True)}"
    return "\n".join(seen.values())


def _write(db_uri: str, doc_id: str, path: Path, parsed: ParsedDocument | None,
           reason: str, flags: list[dict[str, str]] | None = None, sample: str = "",
           fingerprint: str = INGEST_FINGERPRINT) -> dict[str, Any]:
    status = "ok" if parsed else "quarantined"
    ocr_pages = [[d["page"], d["confidence"]] for d in parsed.ocr if d["kept"]] if parsed else []
    row = {
        "doc_id": doc_id, "path": str(path), "source": path.name,
        "title": parsed.title if parsed else path.stem,
        "lang": parsed.lang if parsed else "", "n_pages": parsed.n_pages if parsed else 0,
        "status": status, "reason": reason,
        "toc": json.dumps(parsed.toc if parsed else [], ensure_ascii=False),
        "blocks": json.dumps(parsed.blocks if parsed else [], ensure_ascii=False),
        "fingerprint": fingerprint,
        "ingested_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "hidden_spans": len(parsed.hidden) if parsed else 0,
        "hidden_sample": sample,
        "flags": json.dumps(flags or [], ensure_ascii=False),
        **_provenance(parsed, ocr_pages),
    }
    store.upsert(db_uri, "documents", [row])
    return {"doc_id": doc_id, "path": str(path), "status": status, "reason": reason,
            "n_pages": row["n_pages"], "n_blocks": len(parsed.blocks) if parsed else 0,
            "hidden_spans": row["hidden_spans"], "flags": [f["flag"] for f in flags or []],
            "ocr_pages": len(ocr_pages)}


def _provenance(parsed: ParsedDocument | None, ocr_pages: list[list]) -> dict[str, Any]:
    """``text_source`` ("text_layer" | "ocr" | "mixed"), ``ocr_pages`` (JSON [[page,
    confidence]] of the OCR'd pages kept) and their mean ``ocr_confidence`` (0 when none)."""
    pages_with_text = {b["page"] for b in parsed.blocks} if parsed else set()
    ocr_set = {p for p, _ in ocr_pages}
    if not ocr_set:
        source = "text_layer"
    else:
        source = "ocr" if pages_with_text <= ocr_set else "mixed"
    return {"text_source": source, "ocr_pages": json.dumps(ocr_pages),
            "ocr_confidence": round(_mean(c for _, c in ocr_pages), 4)}


def _known(db_uri: str, doc_ids: list[str], fingerprints: list[str]) -> dict[str, dict[str, Any]]:
    """doc_id -> {status, reason, path} of documents ingested with the current parser (and
    OCR settings and limits, where the row depends on them: ``current_fingerprints``)."""
    where = f"{store.sql_in('fingerprint', fingerprints)} AND {store.sql_in('doc_id', doc_ids)}"
    rows = store.read(db_uri, "documents", where=where,
                      columns=["doc_id", "source", "status", "reason", "flags"])
    return {r["doc_id"]: r for r in rows.to_dicts()}


def _hidden_instructions(row: dict[str, Any]) -> str | None:
    """Why a parsed document is quarantined under ``quarantine_hidden_instructions``, if it is."""
    for flag in json.loads(row.get("flags") or "[]"):
        if flag.get("flag") == "hidden_instructions":
            return (f"{row['source']}: {flag['detail']}; the file looks manipulated - check it, "
                    "or turn off quarantine_hidden_instructions to ingest the rest.")
    return None


def _file_ids(paths: list[str]) -> dict[str, str | None]:
    """path -> doc_id (None when the file cannot be read: ingest quarantines it)."""
    out: dict[str, str | None] = {}
    for path in paths:
        try:
            out[path] = ids.doc_id_for_file(Path(path))
        except OSError:
            out[path] = None
    return out


def documents_of(db_uri: str, paths: list[str], quarantine_hidden: bool = False,
                 fingerprints: list[str] | None = None) -> tuple[list[str], list[dict[str, str]]]:
    """The build's documents: ids of parsed ones (in path order, no repeats) and the
    quarantined ones as {path, doc_id, reason}, from ``documents`` rows with ``fingerprints``
    (default: those of the default settings). With ``quarantine_hidden`` a document whose
    hidden text reads as instructions is quarantined too."""
    file_ids = _file_ids(paths)
    fingerprints = fingerprints or current_fingerprints(OcrSettings(), IngestLimits())
    known = _known(db_uri, [d for d in file_ids.values() if d], fingerprints)
    doc_ids: list[str] = []
    quarantined: list[dict[str, str]] = []
    for path, doc_id in file_ids.items():
        row = known.get(doc_id or "")
        hidden = _hidden_instructions(row) if row and quarantine_hidden else None
        if row is None or row["status"] != "ok" or hidden:
            reason = hidden or (row["reason"] if row else f"{Path(path).name}: cannot read the file")
            quarantined.append({"path": path, "doc_id": doc_id or "", "reason": reason})
        elif doc_id not in doc_ids:
            doc_ids.append(doc_id)
    return doc_ids, quarantined


class IngestStage(Stage):
    """Files -> ``documents`` (one row per file: parsed blocks, or quarantined with a reason).

    One task run per file, named after it; a file is pending when its bytes (``doc_id``) have
    no row from the current parser.
    """

    name: ClassVar[str] = "ingest"
    writes: ClassVar[str] = "documents"
    batch_size: ClassVar[int] = 1
    selects: ClassVar[bool] = True
    parallel_safe: ClassVar[bool] = True  # CPU-bound per file; may run in Dask worker processes
    paths: list[str] = Field(default_factory=list)
    # Quarantine (instead of only flag) a file whose hidden text reads as instructions.
    quarantine_hidden_instructions: bool = False
    ocr: OcrSettings = Field(default_factory=OcrSettings)
    limits: IngestLimits = Field(default_factory=IngestLimits)

    def fingerprint(self, ctx: BuildContext) -> str:
        return INGEST_FINGERPRINT

    def pending(self, ctx: BuildContext) -> list[dict[str, Any]]:
        file_ids = _file_ids(self.paths)
        known = _known(ctx.db_uri, [d for d in file_ids.values() if d],
                       current_fingerprints(self.ocr, self.limits))
        return [{"path": p, "doc_id": d} for p, d in file_ids.items() if d not in known]

    def run(self, ctx: BuildContext, items: list[dict[str, Any]]) -> StageStats:
        results = [ingest_file(i["path"], ctx.db_uri, ocr=self.ocr, limits=self.limits)
                   for i in items]
        bad = [r for r in results if r["status"] != "ok"]
        return StageStats(stage=self.name, items_in=len(items), kept=len(items) - len(bad),
                          dropped={"quarantined": len(bad)} if bad else {})

    def select(self, ctx: BuildContext) -> StageStats:
        """The build's documents: ``extra`` holds ``doc_ids`` and ``quarantined``."""
        doc_ids, quarantined = documents_of(ctx.db_uri, self.paths,
                                            self.quarantine_hidden_instructions,
                                            current_fingerprints(self.ocr, self.limits))
        return StageStats(stage=self.name, items_in=len(self.paths), kept=len(doc_ids),
                          dropped={"quarantined": len(quarantined)} if quarantined else {},
                          extra={"doc_ids": doc_ids, "quarantined": quarantined})

    def label(self, items: list[dict[str, Any]]) -> str:
        return ", ".join(Path(i["path"]).name for i in items)
