"""Every text a release writes goes through one guard: chat-template tokens stripped, PII
scrubbed and, where a drop is not possible, injection phrasings redacted.

``guard_value(value, key) -> (value, {kind: count})`` walks a JSON value (dicts, lists,
strings) and returns a guarded copy; ``guard_rows(rows) -> (kept, dropped)`` does it for
release rows (``samples.jsonl`` and every trainer file are made from them), dropping a row whose
question, answer or CoT addresses a model (``prompt_injection``) or carries a value the scrubber
could not remove in place (``pii_unmapped``). Reviewer edits, GA ``genre`` / ``audience``,
follow-up turns, citation quotes and the card's summary (skipped-chunk examples, quarantine
reasons, hidden-text samples) all pass here, so the release gate finds nothing to fail on. The
detection itself is ``sftforge.cleaning.pii`` and ``injection`` on the shared detection view.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from sftforge.cleaning import injection, pii

# Columns that are text a trainer learns from: an injection there drops the row.
CONTENT_KEYS = frozenset({"question", "answer", "cot", "instruction", "input", "output",
                          "chosen", "rejected", "content", "value", "turns", "conversations",
                          "messages", "system"})
# Identifiers and hashes: never text, left alone (a hex id is not a card number).
_ID_SUFFIXES = ("_id", "_ids", "_sha", "_hash", "fingerprint")


def guard_text(text: str, redact: bool = True) -> tuple[str, Counter[str]]:
    """``text`` with chat tokens stripped, PII scrubbed and (``redact``) injection hits
    replaced by ``[PROMPT_INJECTION:<kind>]``; {kind: count} of what was changed."""
    found: Counter[str] = Counter()
    text, tokens = injection.strip_chat_tokens(text)
    if tokens:
        found["CHAT_TOKEN"] += tokens
    if redact and injection.suspected_injection(text):
        text = injection.redact(text)
        found["PROMPT_INJECTION"] += 1
    text, kinds = pii.scrub(text)
    found.update(kinds)
    return text, found


def guard_value(value: Any, key: str = "", redact: bool = True) -> tuple[Any, Counter[str]]:
    """A copy of the JSON ``value`` with every string guarded (see ``guard_text``)."""
    found: Counter[str] = Counter()
    if isinstance(value, str):
        if key.endswith(_ID_SUFFIXES) or key in ("id", "sha256"):
            return value, found
        return guard_text(value, redact)
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            out[k], kinds = guard_value(v, str(k), redact)
            found.update(kinds)
        return out, found
    if isinstance(value, (list, tuple)):
        items = []
        for v in value:
            item, kinds = guard_value(v, key, redact)
            items.append(item)
            found.update(kinds)
        return items, found
    return value, found


def _strings(value: Any) -> list[str]:
    """Every string inside a JSON value."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, (list, tuple)):
        return [s for v in value for s in _strings(v)]
    return []


def row_drop_reason(row: dict[str, Any]) -> str:
    """``prompt_injection`` when a content column addresses a model, else ""."""
    texts = [t for k, v in row.items() if k in CONTENT_KEYS for t in _strings(v)]
    return "prompt_injection" if injection.suspected_injection(*texts) else ""


def guard_rows(rows: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
    """(guarded rows, [{sample_id, reason}] of the rows dropped), see the module docstring."""
    kept, dropped = [], []
    for row in rows:
        stripped, _ = guard_value(row, redact=False)  # tokens go before the screen looks
        reason = row_drop_reason({k: v for k, v in stripped.items() if k in CONTENT_KEYS})
        guarded, found = guard_value(stripped)
        if not reason and found.get(pii.UNMAPPED):
            reason = "pii_unmapped"
        if reason:
            dropped.append({"sample_id": str(row.get("sample_id", "")), "reason": reason})
        else:
            kept.append(guarded)
    return kept, dropped
