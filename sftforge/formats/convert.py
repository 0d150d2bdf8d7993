"""Convert a dataset file between formats (``spec.FORMATS``) through the neutral Record.

Input: any file ``files.read_rows`` reads, in any format. Output: the file in the target format
and its entry in ``dataset_info.json`` beside it (when LLaMA-Factory can read that format).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sftforge.formats.detect import detect_format
from sftforge.formats.files import read_rows, write_rows
from sftforge.formats.records import CotMode, from_record, to_record
from sftforge.formats.registry import dataset_entry, register
from sftforge.formats.spec import FormatError
from sftforge.formats.validate import row_problems

_SHOWN = 20


def default_out(src: Path, to: str) -> Path:
    """``data.csv`` -> ``data.sharegpt.jsonl`` beside it."""
    return src.with_name(f"{src.stem}.{to}.jsonl")


def _converted(rows: list[tuple[int, Any]], fmt: str, to: str, cot: CotMode
               ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(output rows, skipped [{row, reason}])."""
    out, skipped = [], []
    for n, row in rows:
        problems = row_problems(row, fmt)
        if problems:
            skipped.append({"row": n, "reason": "; ".join(problems)})
            continue
        try:
            out.append(from_record(to_record(row, fmt), to, cot))
        except FormatError as e:
            skipped.append({"row": n, "reason": str(e)})
    return out, skipped


def convert_file(src: str | Path, to: str, out: str | Path | None = None, fmt: str | None = None,
                 columns: dict[str, str] | None = None, cot: CotMode = "keep",
                 skip_bad: bool = False) -> dict[str, Any]:
    """Convert ``src`` to format ``to``; returns {out, from, to, rows_in, rows_out, skipped,
    dataset_info}. Raises ``FormatError`` naming the rows when any cannot be converted, unless
    ``skip_bad`` (then they are left out and listed with their reason)."""
    src = Path(src)
    out = Path(out) if out else default_out(src, to)
    rows = read_rows(src, columns)
    fmt = fmt or detect_format(rows, str(src))
    converted, skipped = _converted(rows, fmt, to, cot)
    if skipped and not skip_bad:
        listed = "\n".join(f"  {src} row {s['row']}: {s['reason']}" for s in skipped[:_SHOWN])
        more = f"\n  ... {len(skipped) - _SHOWN} more" if len(skipped) > _SHOWN else ""
        raise FormatError(f"{len(skipped)} rows of {src} cannot be converted from {fmt} to {to} "
                          f"(fix them, or pass --skip-bad to leave them out):\n{listed}{more}")
    write_rows(out, converted)
    columns_out = {k for r in converted for k in r}
    entry = dataset_entry(out.name, to, columns_out)
    info = register(out.parent, out.stem, entry) if entry else None
    return {"out": str(out), "from": fmt, "to": to, "rows_in": len(rows),
            "rows_out": len(converted), "skipped": skipped,
            "dataset_info": str(info) if info else None}
