"""JSON Lines and JSON files, UTF-8 and unescaped (Chinese stays readable), written atomically."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Iterable


def dumps(obj: Any) -> str:
    """One-line JSON text with non-ASCII characters kept as they are, except U+2028 / U+2029:
    JSON allows them raw, but JavaScript and line-splitting readers take them for line ends."""
    return _escape_separators(json.dumps(obj, ensure_ascii=False, default=str))


def _escape_separators(text: str) -> str:
    # json.dumps only emits these inside strings, where \u2028 is the same character.
    return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def write_jsonl(path: Path, rows: Iterable[dict[str, Any]]) -> int:
    """Write ``rows`` as JSON Lines (temp file + rename, so readers never see half a file)."""
    tmp, n = path.with_name(path.name + ".tmp"), 0
    with open(tmp, "w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(dumps(row) + "\n")
            n += 1
    os.replace(tmp, path)
    return n


def write_json(path: Path, obj: Any) -> None:
    """Write ``obj`` as indented JSON atomically."""
    tmp = path.with_name(path.name + ".tmp")
    text = json.dumps(obj, ensure_ascii=False, indent=2, default=str)
    tmp.write_text(_escape_separators(text) + "\n", "utf-8")
    os.replace(tmp, path)


def read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    """Rows of a JSON Lines file (blank lines ignored)."""
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]
