"""``sftforge verify``: audit any dataset's pairs against their sources with the verifier + rules.

Input: a JSONL file whose rows carry the source text (``source`` or ``context``), the question
(``question`` or ``instruction``) and the answer (``answer`` or ``output``), optionally an id
(``pair_id`` or ``id``), ``label`` (``keep`` / ``drop``), ``kind``, ``citations`` and
``heading_path``; or a release folder (its ``samples.jsonl``, whose passages are read from the
data home's ``chunks`` table by ``chunk_id``). Output: one row per input row {id, verdict,
reasons, one P(yes) per check, method, label, kind} and, for labeled rows, agreement, balanced
accuracy and the catch rate per kind.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

from sftforge import store
from sftforge.verifier.settings import VerifySettings
from sftforge.verifier.verdict import Rules, default_rules, lang_of, rules_of, verdict_of

ALIASES = {"source": ("source", "context"), "question": ("question", "instruction"),
           "answer": ("answer", "output")}
LABELS = ("keep", "drop")
Verify = Callable[[list[dict[str, Any]]], list[dict[str, Any]]]


class AuditInputError(ValueError):
    """A row that cannot be audited; the message names the file, the row and the field."""


def normalize(raw: dict[str, Any], where: str, n: int) -> dict[str, Any]:
    """One input row with the alias columns folded: {id, source, question, answer, label,
    kind, citations, heading_path}; raises :class:`AuditInputError` naming what is missing."""
    if not isinstance(raw, dict):
        raise AuditInputError(f"{where} row {n}: not a JSON object")
    row: dict[str, Any] = {"id": str(raw.get("pair_id") or raw.get("id") or n)}
    for field, names in ALIASES.items():
        value = next((raw[k] for k in names if isinstance(raw.get(k), str) and raw[k].strip()),
                     None)
        if value is None:
            raise AuditInputError(f"{where} row {n} (id {row['id']}): missing field "
                                  f"{' or '.join(repr(k) for k in names)} (a non-empty string)")
        row[field] = value
    label = raw.get("label")
    if label is not None and label not in LABELS:
        raise AuditInputError(f"{where} row {n} (id {row['id']}): label {label!r} is not "
                              "'keep' or 'drop'")
    cites = raw.get("citations")
    if cites is not None and not (isinstance(cites, list)
                                  and all(isinstance(c, (str, dict)) for c in cites)):
        raise AuditInputError(f"{where} row {n} (id {row['id']}): citations must be a list of "
                              "quotes (strings or {\"quote\": ...} objects)")
    heading = raw.get("heading_path")
    if isinstance(heading, str):
        heading = [h.strip() for h in heading.split(" > ") if h.strip()]  # chunks.heading_path
    return {**row, "label": label, "kind": raw.get("kind"), "citations": cites,
            "heading_path": heading}


def read_jsonl_rows(path: Path) -> list[dict[str, Any]]:
    """Normalized rows of a JSONL file (:func:`normalize`); bad JSON names its line."""
    rows = []
    for n, line in enumerate(path.read_text("utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
        except json.JSONDecodeError as exc:
            raise AuditInputError(f"{path.name} row {n}: not valid JSON ({exc.msg})") from None
        rows.append(normalize(raw, path.name, n))
    if not rows:
        raise AuditInputError(f"{path.name}: no rows")
    return rows


def read_release_rows(release: Path, db_uri: str) -> list[dict[str, Any]]:
    """Rows of a release folder: ``samples.jsonl`` with each sample's passage and heading path
    read from the ``chunks`` table of ``db_uri`` (the release records the chunk id, not the
    passage text)."""
    samples_file = release / "samples.jsonl"
    if not samples_file.exists():
        raise AuditInputError(f"{release}: no samples.jsonl (not a release folder)")
    samples = [json.loads(x) for x in samples_file.read_text("utf-8").splitlines() if x.strip()]
    ids = sorted({s.get("chunk_id") for s in samples if s.get("chunk_id")})
    chunks = {c["chunk_id"]: c for c in store.read(
        db_uri, "chunks", where=store.sql_in("chunk_id", ids),
        columns=["chunk_id", "text", "heading_path"]).to_dicts()} if ids else {}
    rows = []
    for n, s in enumerate(samples, 1):
        chunk = chunks.get(s.get("chunk_id") or "")
        if chunk is None:
            raise AuditInputError(f"samples.jsonl row {n} (id {s.get('sample_id')}): its chunk "
                                  f"{s.get('chunk_id')!r} is not in the data home's store "
                                  f"({db_uri}); pass --home of the build that made it")
        rows.append(normalize({**s, "id": s.get("sample_id"), "source": chunk["text"],
                               "heading_path": chunk["heading_path"] or None},
                              "samples.jsonl", n))
    return rows


def audit(rows: list[dict[str, Any]], verify: Verify, settings: VerifySettings,
          rules: Rules | None = None) -> list[dict[str, Any]]:
    """One output row per input row: {id, verdict, reasons, <check>: P(yes)..., method,
    label, kind}."""
    rules = rules or default_rules()
    probs = verify(rows)
    out = []
    for row, p in zip(rows, probs):
        verdict, reasons = verdict_of(p, rules_of(row, rules), settings, lang_of(row))
        checks = {c: round(p[c], 4) for c in settings.checks if c in p}
        extra = {"error": p["error"]} if p.get("error") else {}
        out.append({"id": row["id"], "verdict": verdict, "reasons": reasons, **checks,
                    "method": p.get("method"), "label": row["label"], "kind": row["kind"],
                    **extra})
    return out


def agreement(results: list[dict[str, Any]]) -> dict[str, Any] | None:
    """For the labeled rows: {rows, agreement, balanced_accuracy, drop_recall, keep_recall,
    kinds: {kind: {caught, total}}} (a kind's "caught" is rows whose verdict matches their
    label); None when no row carries a label."""
    labeled = [r for r in results if r["label"] in LABELS]
    if not labeled:
        return None
    recall = {}
    for label in LABELS:
        rows = [r for r in labeled if r["label"] == label]
        recall[label] = sum(r["verdict"] == label for r in rows) / len(rows) if rows else None
    present = [v for v in recall.values() if v is not None]
    kinds: dict[str, dict[str, int]] = {}
    for r in labeled:
        k = kinds.setdefault(r["kind"] or r["label"], {"caught": 0, "total": 0})
        k["total"] += 1
        k["caught"] += r["verdict"] == r["label"]
    return {"rows": len(labeled),
            "agreement": round(sum(r["verdict"] == r["label"] for r in labeled) / len(labeled), 3),
            "balanced_accuracy": round(sum(present) / len(present), 3),
            "drop_recall": _round(recall["drop"]), "keep_recall": _round(recall["keep"]),
            "kinds": kinds}


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 3)
