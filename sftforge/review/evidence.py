"""What the verifier saw, for the review page: each check's value and why a sample was kept,
and the samples a build dropped, grouped by reason.

Input: the release's ``summary.json`` (run_id, fingerprints, params), the ``verifications``
table through ``sftforge.verifier.store.checks_for`` when the verifier ran in that build, the
judge's scores otherwise (``scores`` of ``samples.jsonl``, the ``judgements`` table for dropped
samples), and the ``selection`` table (which stage dropped which sample, and why). Output:
plain dicts the page renders.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sftforge import store
from sftforge.review.reviews import NOT_RESTORABLE
from sftforge.verifier.settings import VerifySettings
from sftforge.verifier.store import checks_for, pair_langs

JUDGE_DIMENSIONS = ("clarity", "faithfulness", "relevance", "completeness", "overall")


def release_summary(release_dir: Path) -> dict[str, Any]:
    """The release's ``summary.json`` ({} when absent)."""
    path = release_dir / "summary.json"
    return json.loads(path.read_text("utf-8")) if path.exists() else {}


def _judge_thresholds(params: dict[str, Any]) -> dict[str, float]:
    judge = params.get("judge") or {}
    return {k: float(judge[f"min_{k}"]) for k in ("overall", "faithfulness")
            if judge.get(f"min_{k}") is not None}


def _judge_scores(db_uri: str, sample_ids: list[str], fp: str) -> dict[str, dict[str, float]]:
    """sample_id -> judge scores under judge fingerprint ``fp`` (for samples not in the
    release, whose ``samples.jsonl`` row carries no scores)."""
    if not (fp and sample_ids):
        return {}
    rows = store.read(db_uri, "judgements", where=store.sql_in("sample_id", sample_ids)
                      + " AND fingerprint = '" + fp.replace("'", "''") + "'")
    return {r["sample_id"]: {k: r[k] for k in JUDGE_DIMENSIONS if r.get(k) is not None}
            for r in rows.sort("judgement_id").to_dicts()}


def checks_of(db_uri: str, summary: dict[str, Any], sample_ids: list[str],
              scores: dict[str, dict[str, Any]] | None = None) -> dict[str, list[dict[str, Any]]]:
    """sample_id -> [{name, value, threshold, passed, kind}]: the verifier's P(yes) per check
    when it ran in the release's build, else the judge's 1-10 scores (``scores`` given, else
    read from ``judgements``); threshold None where no setting applies."""
    fps, params = summary.get("fingerprints") or {}, summary.get("params") or {}
    if fps.get("verify"):
        settings = VerifySettings(**(params.get("verify") or {}))
        found = checks_for(db_uri, sample_ids, fps["verify"])
        langs = pair_langs(db_uri, sample_ids)
        return {sid: [_check(name, value, settings.threshold(name, langs.get(sid, "en")) or None,
                             "verifier")
                      for name, value in found.get(sid, {}).items()] for sid in sample_ids}
    limits = _judge_thresholds(params)
    have = {s: v for s, v in (scores or {}).items() if v}
    have.update(_judge_scores(db_uri, [s for s in sample_ids if s not in have],
                              fps.get("judge", "")))
    return {sid: [_check(k, have[sid][k], limits.get(k), "judge") for k in JUDGE_DIMENSIONS
                  if have.get(sid, {}).get(k) is not None] for sid in sample_ids}


def _check(name: str, value: float, threshold: float | None, kind: str) -> dict[str, Any]:
    return {"name": name, "value": round(float(value), 3), "threshold": threshold,
            "passed": threshold is None or float(value) >= threshold, "kind": kind}


def kept_reasons(checks: list[dict[str, Any]], row: dict[str, Any]) -> list[str]:
    """Why a released sample was kept, one line each: the checks it passed, its located
    citations (those quoting only a heading named apart), its grounding, and that no rule or
    stage of the build dropped it."""
    out = [f"{c['name']} {c['value']:g} ≥ {c['threshold']:g}" for c in checks
           if c["threshold"] is not None and c["passed"]]
    located = [c for c in row.get("citations") or [] if (c.get("start") or 0) >= 0]
    headings = [c for c in located if _is_heading(str(c.get("quote", "")), row)]
    if len(located) > len(headings):
        out.append(f"{len(located) - len(headings)} citation(s) found in the passage")
    if headings:  # shown, not hidden: a heading is no evidence (the rules drop such samples)
        out.append(f"but {len(headings)} citation(s) only quote a heading")
    if row.get("grounding") is not None:
        out.append(f"grounding {row['grounding']:g}")
    out.append("no rule, check or stage of the build dropped it")
    return out


def _is_heading(quote: str, row: dict[str, Any]) -> bool:
    """Whether a citation quotes a Markdown heading or a heading of the chunk's path."""
    text = " ".join(quote.split())
    parts = {" ".join(p.split()) for p in str(row.get("heading_path") or "").split(" > ")}
    return text.startswith("#") or text in parts - {""}


def dropped_groups(db_uri: str, summary: dict[str, Any], limit: int = 50
                   ) -> list[dict[str, Any]]:
    """[{stage, reason, count, restorable, ids}] of the release's build, largest group first;
    ``ids`` holds at most ``limit`` sample ids per group."""
    run_id = str(summary.get("run_id") or "")
    if not run_id:
        return []
    frame = store.read(db_uri, "selection", columns=["sample_id", "stage", "kept", "reason"],
                       where="run_id = '" + run_id.replace("'", "''") + "' AND NOT kept")
    groups: dict[tuple[str, str], list[str]] = {}
    for r in frame.sort("sample_id").to_dicts():
        groups.setdefault((r["stage"], r["reason"]), []).append(r["sample_id"])
    return [{"stage": stage, "reason": reason, "count": len(ids),
             "restorable": stage not in NOT_RESTORABLE, "ids": ids[:limit]}
            for (stage, reason), ids in sorted(groups.items(), key=lambda g: (-len(g[1]), g[0]))]
