"""Which format a file's rows are in, from the columns they carry."""

from __future__ import annotations

from typing import Any

from sftforge.formats.spec import FormatError


def format_of(row: dict[str, Any]) -> str | None:
    """The format one row looks like, or None."""
    pair = "chosen" in row or "rejected" in row
    if "conversations" in row:
        return "dpo-sharegpt" if pair else "sharegpt"
    if "messages" in row:
        return "swift" if "rejected_response" in row else "messages"
    if "instruction" in row or "output" in row:
        return "dpo-alpaca" if pair else "alpaca"
    return None


def detect_format(rows: list[tuple[int, Any]], where: str = "file") -> str:
    """The format most rows look like (rows of other forms are then reported by the checks)."""
    votes: dict[str, int] = {}
    for _, row in rows[:1000]:
        fmt = format_of(row) if isinstance(row, dict) else None
        if fmt:
            votes[fmt] = votes.get(fmt, 0) + 1
    if not votes:
        seen = sorted({k for _, r in rows[:50] if isinstance(r, dict) for k in r})
        raise FormatError(
            f"{where}: cannot tell the format from columns {seen or 'none'}; pass --format, "
            "or map columns with --column instruction=YOUR_COLUMN (output=..., messages=...)")
    return max(votes, key=lambda f: votes[f])
