"""release and card stages: this build's kept samples + the build report -> ``releases/<version>/``.

``release`` gathers the export rows of the samples ``selection`` kept (cleaned text, provenance,
split, cluster, current judge scores) and picks the version; the export stage writes the trainer
files; ``card`` writes ``summary.json`` and the dataset card (``README.md`` + plots) and tags
every LanceDB table version the release used. A build whose exported content is unchanged
rewrites the same version instead of a new one.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE

from sftforge import selection, store
from sftforge.ids import canonical_json, sha256_text
from sftforge.jsonl import read_jsonl, write_jsonl
from sftforge.llm.cache import run_usage
from sftforge.llm.failures import failure_counts
from sftforge.release.card_render import render_card
from sftforge.release.report import BuildReport
from sftforge.release.split_warnings import split_warnings_of
from sftforge.stage import BuildContext
from tasks.dedup import DedupSettings, calibration_report
from tasks.export import ExportSettings
from tasks.judge import scores_for
from tasks.select_chunks import skipped_by_reason

CALIBRATION_CUTOFFS = (0.95, 0.9, 0.85, 0.8, 0.75, 0.7, 0.65, 0.6)
SCORE_KEYS = ("clarity", "faithfulness", "relevance", "completeness", "overall")


def _by_id(db_uri: str, table: str, ids: list[str], where: str | None = None) -> dict[str, dict]:
    cond = store.sql_in("sample_id", ids) + (f" AND {where}" if where else "")
    return {r["sample_id"]: r for r in store.read(db_uri, table, where=cond).to_dicts()}


def release_samples(db_uri: str, sample_ids: list[str], judge_fp: str | None) -> list[dict]:
    """One export row per selected sample: cleaned text, provenance, split, cluster, scores."""
    base = _by_id(db_uri, "samples", sample_ids)
    clean = _by_id(db_uri, "clean_samples", sample_ids)
    splits = _by_id(db_uri, "splits", sample_ids)
    scores = scores_for(db_uri, sample_ids, judge_fp) if judge_fp else {}
    rows = []
    for sid in sorted(sample_ids):
        s, c = base[sid], clean.get(sid, {})
        row = {
            "sample_id": sid, "doc_id": s["doc_id"], "source": s["source"], "page": s["page"],
            "question": c.get("question", s["question"]), "answer": c.get("answer", s["answer"]),
            "cot": c.get("cot", s["cot"]), "split": splits.get(sid, {}).get("split"),
            "cluster_id": splits.get(sid, {}).get("cluster_id"),
            "qtype": s["qtype"], "difficulty": s["difficulty"], "chunk_id": s["chunk_id"],
            "citations": json.loads(c.get("citations") or "[]"),  # PII-scrubbed by clean
        }
        if sid in scores:
            row["scores"] = {k: scores[sid][k] for k in SCORE_KEYS}
        rows.append(row)
    return rows


def choose_version(releases: Path, content_hash: str) -> str:
    """``v0001-<hash>``: a new number only when the content changed since the last release."""
    existing = sorted(p.name for p in releases.glob("v[0-9][0-9][0-9][0-9]-*") if p.is_dir())
    for name in existing:
        if name.endswith(content_hash):
            return name
    last = int(re.match(r"v(\d+)", existing[-1]).group(1)) if existing else 0
    return f"v{last + 1:04d}-{content_hash}"


def tag_tables(db_uri: str, version: str) -> dict[str, int]:
    """Tag the current version of every table with the release name; returns the versions."""
    versions = store.versions(db_uri)
    for name, ver in versions.items():
        tags = store.connect(db_uri).open_table(name).tags
        if version not in tags.list():
            tags.create(version, ver)
    return versions


def distributions(samples: list[dict]) -> dict[str, Any]:
    """Counts the card plots: splits, question types, difficulty, sources, score histogram."""
    hist = Counter(int(round(s["scores"]["overall"])) for s in samples if "scores" in s)
    return {
        "splits": dict(Counter(s["split"] or "all" for s in samples)),
        "qtype": dict(Counter(s["qtype"] for s in samples)),
        "difficulty": dict(Counter(s["difficulty"] for s in samples)),
        "sources": dict(Counter(s["source"] for s in samples)),
        "score_histogram": {str(k): hist[k] for k in sorted(hist)},
    }


def build_counts(ctx: BuildContext, exported: int) -> dict[str, int]:
    """Items per stage of this build: documents, chunks, questions, samples, judged, exported."""
    docs = store.sql_in("doc_id", ctx.doc_ids)
    samples = selection.entered(ctx.db_uri, ctx.run_id)
    counts = {
        "documents": len(ctx.doc_ids), "chunks": store.count(ctx.db_uri, "chunks", docs),
        "questions": store.count(ctx.db_uri, "questions",
                                 f"fingerprint = '{ctx.fp('questions')}' AND {docs}"),
        "samples": len(samples),
    }
    if "judge" in ctx.fingerprints:
        counts["judged"] = len(scores_for(ctx.db_uri, samples, ctx.fp("judge")))
    return {**counts, "exported": exported}


def build_summary(ctx: BuildContext, report: BuildReport, samples: list[dict], version: str,
                  export_stats: dict) -> dict:
    """The ``summary.json`` contract: counts per stage, drops, LLM usage, quarantine, splits."""
    usage, drops = report.usage, selection.funnel(ctx.db_uri, ctx.run_id)
    if export_stats.get("dropped"):
        drops["export"] = dict(Counter(d["reason"] for d in export_stats["dropped"]))
    extra = {"skipped_chunks": skipped_by_reason(ctx.db_uri, ctx.doc_ids, ctx.fp("select_chunks"))
             } if "select_chunks" in ctx.fingerprints else {}
    return {
        **extra, "version": version, "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "run_id": report.run_id, "counts": build_counts(ctx, len(samples)),
        "stages": {k: v.model_dump() for k, v in report.stages.items()}, "drop_reasons": drops,
        "llm_requests": usage.get("llm_requests", 0), "cache_hits": usage.get("cache_hits", 0),
        "tokens": {"prompt": usage.get("prompt_tokens", 0),
                   "completion": usage.get("completion_tokens", 0)},
        "quarantined": report.quarantined, "failures": failure_counts(ctx.db_uri),
        "failure_rates": report.failure_rates(),
        "duplicate_clusters": report.stages["dedup"].extra.get("clusters", 0)
        if "dedup" in report.stages else 0,
        "distributions": distributions(samples), "files": export_stats["files"],
        "split_warnings": split_warnings_of(distributions(samples)["splits"], report.params),
        "params": report.params,
    }


def prepare_release(ctx: BuildContext, out_dir: str, export: ExportSettings) -> dict[str, str]:
    """Assemble the export rows of this build's kept samples and pick the version; the rows go
    to ``HOME/runs/<run id>/`` as JSON Lines (a path keeps task inputs small)."""
    sample_ids = selection.kept(ctx.db_uri, ctx.run_id)
    samples = release_samples(ctx.db_uri, sample_ids, ctx.fingerprints.get("judge"))
    content_hash = sha256_text(canonical_json([samples, export.model_dump()]))[:8]
    releases = Path(out_dir) / "releases"
    version = choose_version(releases, content_hash)
    samples_path = Path(ctx.home) / "runs" / ctx.run_id / f"release-{version}.jsonl"
    samples_path.parent.mkdir(parents=True, exist_ok=True)
    write_jsonl(samples_path, samples)
    return {"version": version, "release_dir": str(releases / version),
            "samples_path": str(samples_path)}


def write_card(ctx: BuildContext, release: dict[str, str], export_stats: dict,
               report: BuildReport) -> dict:
    """Write ``summary.json`` and the dataset card; tag table versions; returns the summary."""
    target, version = Path(release["release_dir"]), release["version"]
    samples = read_jsonl(release["samples_path"])
    report.usage = run_usage(Path(ctx.home) / "llm_cache", ctx.run_id)
    summary = build_summary(ctx, report, samples, version, export_stats)
    summary["table_versions"] = tag_tables(ctx.db_uri, version)
    (target / "summary.json").write_text(json.dumps(summary, ensure_ascii=False, indent=2), "utf-8")
    render_card(target, summary)
    write_calibration(target, ctx.db_uri, report)
    (target.parent / "LATEST").write_text(version + "\n", "utf-8")
    return {**summary, "release_dir": str(target)}


def write_calibration(target: Path, db_uri: str, report: BuildReport) -> None:
    """``dedup_calibration.md``: sample pairs per cosine band, to choose the dedup threshold."""
    settings = DedupSettings(**report.params.get("dedup", {}))
    text = calibration_report(db_uri, settings, cutoffs=CALIBRATION_CUTOFFS)
    (target / "dedup_calibration.md").write_text(text, "utf-8")


release_task = task(prepare_release, name="release", retries=2, cache_policy=NO_CACHE)
card_task = task(write_card, name="card", retries=2, cache_policy=NO_CACHE)
