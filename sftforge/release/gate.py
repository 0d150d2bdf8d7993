"""Release gate: the last check before a release is published.

``scan_release(folder, secrets, allow) -> GateReport`` reads every ``*.jsonl``, ``*.json`` and
``*.md`` file under ``folder`` (README.md, the card's other pages) and checks every string in
it (JSON object keys included) for:

- PII: the kinds of ``sftforge.cleaning.pii.PII_KINDS`` (EMAIL, PHONE, CN_ID, BANK_CARD, IP,
  URL_CREDENTIALS, PASSPORT), read on the same detection view as the scrubber
  (``sftforge.cleaning.detect_view``); scrubbed text shows placeholders, which never match;
- secrets: ``SECRET`` (token shapes, key assignments) and ``CONFIGURED_KEY`` (a literal
  occurrence of one of ``secrets``: the endpoint keys of the build's settings);
- ``PROMPT_INJECTION``: ``sftforge.cleaning.injection`` hits.

A finding names the file, the row (1-based line of a JSON Lines or Markdown file, ``None`` for a
``.json`` file) and the field (JSON path of the string, e.g. ``citations[0].quote``; ``text``
for Markdown), and the kind; never the value, so the report itself leaks nothing. Kinds in
``allow`` are reported but do not fail the release. The scan raises nothing; the flow raises
``GateFailed(report)`` when ``report.passed`` is False.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any, Iterator

from pydantic import BaseModel, Field

from sftforge.cleaning import injection, pii

PII_KINDS = frozenset((*pii.PII_KINDS, pii.UNMAPPED))  # the scrubber's list, not a copy
SECRET_KINDS = frozenset({"SECRET", "CONFIGURED_KEY"})
INJECTION_KIND = "PROMPT_INJECTION"
PATTERNS = ("*.jsonl", "*.json", "*.md")
_MIN_SECRET_LEN = 8  # shorter configured "keys" ("EMPTY", "none") are placeholders, not secrets


class Finding(BaseModel):
    """One hit: where it is and what kind it is (never the matched value)."""

    file: str  # path relative to the release folder
    row: int | None  # 1-based line for .jsonl and .md files; None for .json
    field: str  # JSON path of the string ("answer", "citations[0].quote"), "text" for .md
    kind: str  # a PII kind, SECRET, CONFIGURED_KEY or PROMPT_INJECTION
    allowed: bool = False

    def describe(self) -> str:
        row = f" row {self.row}" if self.row is not None else ""
        return f"{self.file}{row} field {self.field}: {self.kind}" + (
            " (allowed)" if self.allowed else "")


class GateReport(BaseModel):
    """What the gate scanned and found; ``passed`` is False when a finding is not allowed."""

    files: list[str] = Field(default_factory=list)
    findings: list[Finding] = Field(default_factory=list)
    allow: list[str] = Field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not any(not f.allowed for f in self.findings)

    def counts(self) -> dict[str, int]:
        """Findings per category: {"pii", "secrets", "injection"}."""
        kinds = Counter(f.kind for f in self.findings)
        return {"pii": sum(n for k, n in kinds.items() if k in PII_KINDS),
                "secrets": sum(n for k, n in kinds.items() if k in SECRET_KINDS),
                "injection": kinds.get(INJECTION_KIND, 0)}

    def summary_line(self) -> str:
        """The card's line, e.g. "0 PII, 0 secrets, 0 injection patterns in 7 files"."""
        c = self.counts()
        line = (f"{c['pii']} PII, {c['secrets']} secrets, {c['injection']} injection patterns "
                f"in {len(self.files)} files")
        allowed = sum(f.allowed for f in self.findings)
        return line + (f" ({allowed} allowed: {', '.join(self.allow)})" if allowed else "")


class GateFailed(Exception):
    """The release carries PII, a secret or an injection pattern that was not allowed."""

    def __init__(self, report: GateReport, limit: int = 20) -> None:
        bad = [f for f in report.findings if not f.allowed]
        lines = "\n".join(f"  - {f.describe()}" for f in bad[:limit])
        more = f"\n  ... and {len(bad) - limit} more" if len(bad) > limit else ""
        super().__init__(
            f"release gate failed: {report.summary_line()}\n{lines}{more}\nRemove the source "
            "text, fix the stage that let it through, or allow the kind explicitly (gate allow "
            "setting, e.g. IP) if it is intended.")
        self.report = report


def scan_release(folder: Path, secrets: list[str], allow: set[str]) -> GateReport:
    """Scan every release file under ``folder``; see the module docstring."""
    folder = Path(folder)
    keys = sorted({s for s in secrets if s and len(s) >= _MIN_SECRET_LEN})
    allow = {a.upper() for a in allow}
    report = GateReport(allow=sorted(allow))
    files = sorted({p for pattern in PATTERNS for p in folder.rglob(pattern) if p.is_file()})
    for path in files:
        name = path.relative_to(folder).as_posix()
        report.files.append(name)
        for row, field, text in _strings(path):
            for kind in _kinds(text, keys):
                report.findings.append(Finding(file=name, row=row, field=field, kind=kind,
                                               allowed=kind in allow))
    return report


def _kinds(text: str, keys: list[str]) -> list[str]:
    """Every kind found in ``text``, once each."""
    _, found = pii.scrub(text)
    kinds = sorted(found)
    if any(k in text for k in keys):
        kinds.append("CONFIGURED_KEY")
    if injection.suspected_injection(text):
        kinds.append(INJECTION_KIND)
    return kinds


def _strings(path: Path) -> Iterator[tuple[int | None, str, str]]:
    """(row, field, text) of every string in a release file."""
    text = path.read_text("utf-8", errors="replace")
    if path.suffix == ".md":
        for n, line in enumerate(text.splitlines(), 1):
            yield n, "text", line
    elif path.suffix == ".jsonl":
        for n, line in enumerate(text.splitlines(), 1):
            if line.strip():
                yield from ((n, f, s) for f, s in _walk(_load(line), ""))
    else:
        yield from ((None, f, s) for f, s in _walk(_load(text), ""))


def _load(text: str) -> Any:
    """Parsed JSON; an unparsable file or line is scanned as one raw string instead."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return {"<unparsed>": text}


def _walk(value: Any, path: str) -> Iterator[tuple[str, str]]:
    """(JSON path, string) of every string in ``value``, keys included."""
    if isinstance(value, str):
        yield path or "$", value
    elif isinstance(value, dict):
        for k, v in value.items():
            sub = f"{path}.{k}" if path else str(k)
            yield sub + "<key>", str(k)
            yield from _walk(v, sub)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _walk(v, f"{path}[{i}]")
