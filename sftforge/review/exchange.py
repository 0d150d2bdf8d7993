"""The audit as a file, for people who review in a spreadsheet or another tool.

Export writes one row per audit item (JSONL, or CSV by the file's extension) with the item,
its source passage and the latest verdict; a reviewer fills ``verdict`` (accept / reject /
edit), ``reason``, ``note``, ``edited_question`` / ``edited_answer``, ``reviewer``. Import
validates every row (all or nothing) and appends new or changed verdicts to ``reviews``;
rows with an empty verdict are skipped (not reviewed yet).
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from sftforge.jsonl import read_jsonl, write_jsonl
from sftforge.review import reviews
from sftforge.review.audit import ReviewError

COLUMNS = ("release", "sample_id", "source", "page", "qtype", "split", "question", "answer",
           "passage", "verdict", "reason", "note", "edited_question", "edited_answer",
           "reviewer", "reviewed_at")


def _format(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix not in (".jsonl", ".csv"):
        raise ReviewError(f"{path}: unsupported extension {suffix or '(none)'}; use .jsonl or .csv")
    return suffix[1:]


def export_audit(path: Path, release_version: str, items: list[dict[str, Any]],
                 latest: dict[str, dict[str, Any]]) -> int:
    """Write the audit ``items`` with their latest verdicts to ``path``; returns rows written."""
    rows = []
    for item in items:
        v = latest.get(item["sample_id"], {})
        rows.append({
            "release": release_version, **{k: item.get(k) for k in COLUMNS[1:9]},
            "verdict": v.get("verdict", ""), "reason": v.get("reason", ""),
            "note": v.get("note", ""), "edited_question": v.get("question", ""),
            "edited_answer": v.get("answer", ""), "reviewer": v.get("reviewer", ""),
            "reviewed_at": v.get("reviewed_at", ""),
        })
    if _format(path) == "jsonl":
        return write_jsonl(path, rows)
    # utf-8-sig: spreadsheet programs then open Chinese text correctly.
    with open(path, "w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows({k: csv_cell(v) for k, v in r.items()} for r in rows)
    return len(rows)


# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection: a
# document's "=HYPERLINK(...)" would run on the reviewer's machine). A leading "'" makes it
# text; a cell that itself starts with "'" gets one too, so reading back is exact.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "'")


def csv_cell(value: Any) -> Any:
    """``value`` safe for a CSV cell a spreadsheet opens (non-strings unchanged)."""
    return "'" + value if isinstance(value, str) and value.startswith(_FORMULA_START) else value


def csv_value(cell: Any) -> Any:
    """The value ``csv_cell`` escaped (a read-back cell)."""
    if isinstance(cell, str) and cell.startswith("'") and cell[1:].startswith(_FORMULA_START):
        return cell[1:]
    return cell


def read_rows(path: Path) -> list[tuple[int, dict[str, Any]]]:
    """(line number, row) of an exported-and-filled audit file."""
    kind = _format(path)
    if not path.exists():
        raise ReviewError(f"{path} does not exist: export the audit first (--export FILE)")
    if kind == "jsonl":
        try:
            return [(i + 1, row) for i, row in enumerate(read_jsonl(path))]
        except ValueError as exc:
            raise ReviewError(f"{path}: not valid JSON Lines ({exc}); export it again") from exc
    with open(path, encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        missing = {"sample_id", "verdict"} - set(reader.fieldnames or [])
        if missing:
            raise ReviewError(f"{path}: missing columns {sorted(missing)}; keep the exported header")
        # line 1 is the header
        return [(i + 2, {k: csv_value(v) for k, v in row.items()}) for i, row in enumerate(reader)]


def parse_verdicts(path: Path, release_version: str, audit_ids: set[str],
                   default_reviewer: str) -> list[reviews.Verdict]:
    """Validated verdicts of the filled rows; any bad row is an error naming file and line."""
    verdicts, errors = [], []
    for line, row in read_rows(path):
        verdict = str(row.get("verdict") or "").strip().lower()
        if not verdict:
            continue
        where = f"{path}:{line}"
        sid, release = str(row.get("sample_id") or ""), str(row.get("release") or release_version)
        if release != release_version:
            errors.append(f"{where}: row is from release {release}, not {release_version}")
        elif sid not in audit_ids:
            errors.append(f"{where}: sample_id {sid!r} is not in the audit of {release_version}")
        else:
            try:
                verdicts.append(_verdict(row, verdict, release_version, default_reviewer, path))
            except ValidationError as exc:
                errors.append(f"{where}: " + reviews.messages(exc))
    if errors:
        raise ReviewError("nothing imported; fix these rows and import again:\n" + "\n".join(errors))
    return verdicts


def _verdict(row: dict[str, Any], verdict: str, release_version: str, default_reviewer: str,
             path: Path) -> reviews.Verdict:
    text = {k: str(row.get(k) or "").strip() for k in
            ("reason", "note", "edited_question", "edited_answer", "reviewer")}
    return reviews.Verdict(
        release_version=release_version, sample_id=str(row["sample_id"]), verdict=verdict,
        reviewer=text["reviewer"] or default_reviewer, reason=text["reason"], note=text["note"],
        question=text["edited_question"], answer=text["edited_answer"],
        origin=f"import:{path.name}")


def _unchanged(v: reviews.Verdict, stored: dict[str, Any] | None) -> bool:
    fields = {"verdict": v.verdict, "reason": v.reason if v.verdict == "reject" else "",
              "note": v.note, "question": v.question if v.verdict == "edit" else "",
              "answer": v.answer if v.verdict == "edit" else ""}
    return stored is not None and all((stored.get(k) or "") == val for k, val in fields.items())


def import_audit(db_uri: str, path: Path, release_version: str, audit_ids: set[str],
                 reviewer: str) -> dict[str, int]:
    """Append the file's new or changed verdicts to ``reviews`` (stamped now).

    Rows equal to the stored latest verdict (e.g. exported from the web page and left as
    they were) are skipped, so importing the same file twice changes nothing.
    """
    latest = reviews.latest(db_uri, release_version)
    parsed = parse_verdicts(path, release_version, audit_ids, reviewer)
    new = [v for v in parsed if not _unchanged(v, latest.get(v.sample_id))]
    reviews.record(db_uri, new)
    return {"rows": len(parsed), "recorded": len(new), "unchanged": len(parsed) - len(new)}
