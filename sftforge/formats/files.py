"""Dataset files <-> lists of row dicts: JSON Lines, JSON arrays, parquet and CSV.

CSV cells of nested columns (``history``, ``conversations``, ``messages``, ``chosen``,
``rejected``) hold JSON text and are decoded; on writing, nested values become JSON text again.
Row numbers are 1-based: the line number for JSON Lines, the data row for CSV (header excluded),
the element for JSON arrays and parquet.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from sftforge.formats.spec import FormatError
from sftforge.jsonl import write_json, write_jsonl

NESTED = ("history", "conversations", "messages", "chosen", "rejected")
# Column names other tools use for the Alpaca fields (ms-swift query/response, sftforge's own
# samples.jsonl question/answer); used only when a row has none of the format's own columns.
ALIASES = {"query": "instruction", "question": "instruction", "response": "output",
           "answer": "output"}
ANCHORS = ("instruction", "conversations", "messages")
SUFFIXES = (".jsonl", ".ndjson", ".json", ".parquet", ".csv", ".tsv")

Rows = list[tuple[int, Any]]


def _jsonl(path: Path) -> Rows:
    rows = []
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                rows.append((n, json.loads(line)))
            except json.JSONDecodeError as e:
                raise FormatError(f"{path}:{n}: invalid JSON ({e.msg}); fix or remove the line") from e
    return rows


def _json(path: Path) -> Rows:
    try:
        data = json.loads(path.read_text("utf-8"))
    except json.JSONDecodeError as e:
        raise FormatError(f"{path}:{e.lineno}: invalid JSON ({e.msg})") from e
    if not isinstance(data, list):
        raise FormatError(f"{path}: a JSON dataset must be an array of rows, found {type(data).__name__}")
    return list(enumerate(data, 1))


def _cell(value: str, column: str, where: str) -> Any:
    if column not in NESTED or not value.strip():
        return (None if column in NESTED else value)
    if value.lstrip()[:1] not in "[{":
        return value  # a plain string (Alpaca chosen/rejected)
    try:
        return json.loads(value)
    except json.JSONDecodeError as e:
        raise FormatError(f"{where}: column '{column}' is not valid JSON ({e.msg})") from e


def _csv(path: Path) -> Rows:
    delimiter = "\t" if path.suffix == ".tsv" else ","
    with open(path, encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh, delimiter=delimiter)
        return [(n, {k: _cell(v or "", k, f"{path} row {n}") for k, v in row.items() if k})
                for n, row in enumerate(reader, 1)]


def _rename(row: Any, columns: dict[str, str]) -> Any:
    """``row`` with ``columns`` ({format column: file column}) and the aliases applied."""
    if not isinstance(row, dict):
        return row
    row = {**row}
    for target, source in columns.items():
        if source in row:
            row[target] = row.pop(source)
    if not any(a in row for a in ANCHORS):
        for source, target in ALIASES.items():
            if source in row and target not in row:
                row[target] = row.pop(source)
    return row


def read_rows(path: str | Path, columns: dict[str, str] | None = None) -> Rows:
    """(row number, row) pairs of a dataset file, columns renamed by ``columns``."""
    path = Path(path)
    if not path.is_file():
        raise FormatError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson"):
        rows = _jsonl(path)
    elif suffix == ".json":
        rows = _json(path)
    elif suffix == ".parquet":
        rows = list(enumerate(pq.read_table(path).to_pylist(), 1))
    elif suffix in (".csv", ".tsv"):
        rows = _csv(path)
    else:
        raise FormatError(f"{path}: unknown file type; use one of {', '.join(SUFFIXES)}")
    return [(n, _rename(r, columns or {})) for n, r in rows]


def fill_columns(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows that all have the same columns, in first-seen order: a column LLaMA-Factory is told
    about (or a parquet/CSV schema) must exist in every row."""
    names = list(dict.fromkeys(k for r in rows for k in r))
    # A missing system prompt stays null: ms-swift turns "" into an empty system message, which
    # replaces the chat template's default system prompt.
    blank = {"history": [], "input": ""}
    return [{k: r.get(k, blank.get(k)) for k in names} for r in rows]


def write_rows(path: str | Path, rows: list[dict[str, Any]]) -> int:
    """Write ``rows`` in the file type of ``path``'s suffix; returns the row count."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = fill_columns(rows)
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson"):
        return write_jsonl(path, rows)
    if suffix == ".json":
        write_json(path, rows)
    elif suffix == ".parquet":
        pq.write_table(pa.Table.from_pylist(rows), path)
    elif suffix in (".csv", ".tsv"):
        with open(path, "w", encoding="utf-8", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(rows[0]) if rows else [],
                                    delimiter="\t" if suffix == ".tsv" else ",")
            writer.writeheader()
            for r in rows:
                writer.writerow({k: json.dumps(v, ensure_ascii=False)
                                 if isinstance(v, (list, dict)) else v for k, v in r.items()})
    else:
        raise FormatError(f"{path}: unknown file type; use one of {', '.join(SUFFIXES)}")
    return len(rows)
