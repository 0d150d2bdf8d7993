"""Dataset health check: what a trainer would drop or misread, duplicates, lengths, languages,
PII and train/val/test leakage, over files sftforge did not necessarily write.

Input: dataset files (``files.read_rows``). Output: one report dict per file
({path, format, split, rows, problems: [{row, problem}], duplicates, near_duplicates, tokens,
languages, pii}) and ``leaks`` [{file, row, split, other_file, other_row, other_split}] across
files whose names say their split.
"""

from __future__ import annotations

import hashlib
import json
import re
import statistics
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sftforge.cleaning.pii import scrub
from sftforge.formats.detect import detect_format
from sftforge.formats.files import read_rows
from sftforge.formats.records import Record, to_record
from sftforge.formats.validate import row_problems
from sftforge.text import detect_lang, estimate_tokens

# LLaMA-Factory's default ``cutoff_len``: longer rows are truncated in training.
DEFAULT_CUTOFF = 2048
_SPLIT = re.compile(r"(?:^|[_.-])(train|val|valid|validation|dev|test|eval)(?:$|[_.-])", re.I)
_SPLIT_NAME = {"valid": "val", "validation": "val", "dev": "val", "eval": "val"}
_NOT_WORD = re.compile(r"[\W_]+")


@dataclass
class Scanned:
    """One file read and checked: its report and, per readable row, the record."""

    report: dict[str, Any]
    records: list[tuple[int, Record]] = field(default_factory=list)


def split_of(path: Path) -> str | None:
    """train/val/test from a file name such as ``alpaca_test.jsonl`` (None when it has none)."""
    m = _SPLIT.search(path.stem)
    return _SPLIT_NAME.get(m.group(1).lower(), m.group(1).lower()) if m else None


def record_text(rec: Record) -> str:
    """Every text of a record, for lengths, languages and PII."""
    parts = [rec.system, *(m["content"] for m in rec.messages), rec.chosen or "",
             rec.rejected or "", rec.cot or ""]
    return "\n".join(p for p in parts if p)


def normalized(text: str) -> str:
    """Text with width, case, spacing and punctuation differences removed (near-duplicate key)."""
    return _NOT_WORD.sub("", unicodedata.normalize("NFKC", text).casefold())


def _digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, ensure_ascii=False).encode()).hexdigest()


def prompt_key(rec: Record) -> str:
    """What leaks between splits: the normalized user side of the conversation."""
    return _digest(normalized(" ".join(m["content"] for m in rec.messages if m["role"] == "user")))


def duplicates(records: list[tuple[int, Record]]) -> tuple[list[dict], list[dict]]:
    """Exact and near duplicates as [{row, same_as}] (``same_as`` = first row with that text)."""
    exact_seen: dict[str, int] = {}
    near_seen: dict[str, int] = {}
    exact, near = [], []
    for n, rec in records:
        whole = [rec.system, rec.messages, rec.chosen, rec.rejected, rec.cot]
        e, k = _digest(whole), _digest(normalized(record_text(rec)))
        if e in exact_seen:
            exact.append({"row": n, "same_as": exact_seen[e]})
        elif k in near_seen:
            near.append({"row": n, "same_as": near_seen[k]})
        exact_seen.setdefault(e, n)
        near_seen.setdefault(k, n)
    return exact, near


def token_report(records: list[tuple[int, Record]], cutoff: int) -> dict[str, Any]:
    """Token estimate per row: min/median/p95/max, rows over ``cutoff`` and far outliers.

    An outlier lies beyond 3 interquartile ranges of the quartiles (needs 20 rows or more).
    """
    sizes = [(n, estimate_tokens(record_text(rec))) for n, rec in records]
    if not sizes:
        return {"min": 0, "median": 0, "p95": 0, "max": 0, "over_cutoff": [], "outliers": []}
    values = sorted(t for _, t in sizes)
    report = {"min": values[0], "median": int(statistics.median(values)),
              "p95": values[min(len(values) - 1, int(0.95 * len(values)))], "max": values[-1],
              "cutoff": cutoff, "over_cutoff": [n for n, t in sizes if t > cutoff],
              "outliers": []}
    if len(values) >= 20:
        q1, _, q3 = statistics.quantiles(values, n=4)
        low, high = q1 - 3 * (q3 - q1), q3 + 3 * (q3 - q1)
        report["outliers"] = [{"row": n, "tokens": t} for n, t in sizes if t < low or t > high]
    return report


def pii_report(records: list[tuple[int, Record]]) -> dict[str, Any]:
    """PII hits (``sftforge.cleaning.pii``) per kind and the rows that have any."""
    kinds: Counter[str] = Counter()
    rows = []
    for n, rec in records:
        _, found = scrub(record_text(rec))
        if found:
            kinds.update(found)
            rows.append({"row": n, "kinds": dict(found)})
    return {"kinds": dict(kinds), "rows": rows}


def scan_file(path: Path, fmt: str | None = None, columns: dict[str, str] | None = None,
              cutoff: int = DEFAULT_CUTOFF) -> Scanned:
    """Read and check one file; unreadable files raise ``FormatError``."""
    rows = read_rows(path, columns)
    fmt = fmt or detect_format(rows, str(path))
    problems, records = [], []
    for n, row in rows:
        found = row_problems(row, fmt)
        problems += [{"row": n, "problem": p} for p in found]
        if not found:
            records.append((n, to_record(row, fmt)))
    exact, near = duplicates(records)
    report = {
        "path": str(path), "format": fmt, "split": split_of(path), "rows": len(rows),
        "readable_rows": len(records), "problems": problems, "duplicates": exact,
        "near_duplicates": near, "tokens": token_report(records, cutoff),
        "languages": dict(Counter(detect_lang(record_text(r)) for _, r in records)),
        "pii": pii_report(records),
    }
    return Scanned(report, records)


def leaks(scans: list[Scanned]) -> list[dict[str, Any]]:
    """Rows whose prompt also appears in a file of another split (each leaked row once)."""
    first: dict[str, tuple[str, str, int]] = {}  # prompt key -> (split, file, row) first seen
    order = {"train": 0, "val": 1, "test": 2}
    named = [s for s in scans if s.report["split"]]
    out = []
    for scan in sorted(named, key=lambda s: order.get(s.report["split"], 3)):
        split, path = scan.report["split"], scan.report["path"]
        for n, rec in scan.records:
            key = prompt_key(rec)
            seen = first.setdefault(key, (split, path, n))
            if seen[0] != split:
                out.append({"file": path, "row": n, "split": split, "other_file": seen[1],
                            "other_row": seen[2], "other_split": seen[0]})
    return out


def verdict(reports: list[dict[str, Any]], leaked: list[dict], errors: list[str]) -> dict:
    """``{ok, summary}``: not ok when a file is unreadable, a row would be dropped or misread,
    or a row leaks across splits; duplicates, lengths and PII are warnings."""
    bad = sum(len(r["problems"]) for r in reports)
    warn = {"duplicates": sum(len(r["duplicates"]) for r in reports),
            "near duplicates": sum(len(r["near_duplicates"]) for r in reports),
            "rows over cutoff": sum(len(r["tokens"]["over_cutoff"]) for r in reports),
            "rows with PII": sum(len(r["pii"]["rows"]) for r in reports)}
    failures = [f"{n} {what}" for n, what in ((len(errors), "unreadable files"),
                (bad, "row problems a trainer would drop or misread"),
                (len(leaked), "rows leaked across splits")) if n]
    warnings = [f"{n} {what}" for what, n in warn.items() if n]
    if failures:
        return {"ok": False, "summary": "FAIL: " + "; ".join(failures + warnings)}
    return {"ok": True, "summary": "OK" + (" with warnings: " + "; ".join(warnings) if warnings else "")}
