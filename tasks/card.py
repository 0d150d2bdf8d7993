"""release and card stages: this build's kept samples + the build report -> ``releases/<version>/``.

``release`` gathers the export rows of the samples ``selection`` kept (cleaned text, provenance,
split, cluster, current judge scores) and picks the version; the export stage writes the trainer
files; ``card`` writes ``summary.json`` and the dataset card (``README.md`` + plots) and tags
every LanceDB table version the release used. All of it happens in a staging folder
(``sftforge.release.staging``); ``publish`` renames it into place once the gate passed. A build
whose exported content equals a published version keeps that version (folder, card and tags
untouched) instead of writing a new one.
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
from sftforge.cleaning.release_guard import guard_value
from sftforge.grounding.citations import verified_citation_share
from sftforge.ids import canonical_json, sha256_text
from sftforge.jsonl import read_jsonl, write_jsonl
from sftforge.llm.cache import run_usage
from sftforge.llm.failures import failure_counts
from sftforge.release.card_render import render_card
from sftforge.release.gate import GateReport
from sftforge.release.general_mix import file_sha
from sftforge.release.facts import release_facts
from sftforge.release.local_paths import public_params, public_quarantine, public_stages
from sftforge.release.report import BuildReport
from sftforge.release.split_warnings import split_warnings_of
from sftforge.release.staging import (EmptyRelease, discard, latest, promote, published,
                                      releases_root, staging_dir)
from sftforge.stage import BuildContext
from sftforge.verifier.store import checks_for
from tasks.dedup import DedupSettings, calibration_report
from tasks.dialogues import turns_for
from tasks.export import ExportSettings
from tasks.grounding import scores_of as grounding_scores
from tasks.judge import JudgeSettings, judge_inputs, scores_for, self_check
from tasks.preferences import pairs_for
from tasks.review import DROP_REASON as REVIEW_DROP
from tasks.review import apply_reviews, review_feedback, review_verdicts
from tasks.select_chunks import skipped_by_reason
from sftforge.release.coverage import coverage, coverage_markdown
from tasks.domain_tree import read_nodes
from tasks.tag_nodes import current_tags

CALIBRATION_CUTOFFS = (0.95, 0.9, 0.85, 0.8, 0.75, 0.7, 0.65, 0.6)
SCORE_KEYS = ("clarity", "faithfulness", "relevance", "completeness", "overall")


def _by_id(db_uri: str, table: str, ids: list[str], where: str | None = None) -> dict[str, dict]:
    cond = store.sql_in("sample_id", ids) + (f" AND {where}" if where else "")
    return {r["sample_id"]: r for r in store.read(db_uri, table, where=cond).to_dicts()}


def release_samples(db_uri: str, sample_ids: list[str], judge_fp: str | None,
                    verify_fp: str | None = None) -> list[dict]:
    """One export row per selected sample: cleaned text, provenance, split, cluster, the
    judge's scores and the verifier's checks (each when it ran)."""
    base = _by_id(db_uri, "samples", sample_ids)
    clean = _by_id(db_uri, "clean_samples", sample_ids)
    splits = _by_id(db_uri, "splits", sample_ids)
    scores = scores_for(db_uri, sample_ids, judge_fp) if judge_fp else {}
    checks = checks_for(db_uri, sample_ids, verify_fp) if verify_fp else {}
    grounded = grounding_scores(db_uri, judge_inputs(db_uri, sample_ids))
    nodes = current_tags(db_uri, [s["question_id"] for s in base.values()])
    ocr = ocr_of_chunks(db_uri, [s["chunk_id"] for s in base.values()])
    rows = [release_row(base[sid], clean.get(sid, {}), splits.get(sid, {}), scores.get(sid),
                        grounded.get(sid), nodes.get(base[sid]["question_id"], ""))
            for sid in sorted(sample_ids)]
    for row in rows:
        if row["sample_id"] in checks:  # {check: P(yes)} of the verifier
            row["checks"] = {k: round(v, 4) for k, v in checks[row["sample_id"]].items()}
        row.update(ocr.get(row["chunk_id"], {"ocr": False}))
    return rows


def ocr_of_chunks(db_uri: str, chunk_ids: list[str]) -> dict[str, dict[str, Any]]:
    """chunk_id -> {ocr: True, ocr_confidence} for chunks with OCR'd text (``chunks``
    ``text_source`` "ocr" or "mixed"): what a sample from such a chunk says in samples.jsonl."""
    rows = store.read(db_uri, "chunks", columns=["chunk_id", "text_source", "ocr_confidence"],
                      where=store.sql_in("chunk_id", chunk_ids)).to_dicts()
    return {r["chunk_id"]: {"ocr": True, "ocr_confidence": r["ocr_confidence"]}
            for r in rows if r["text_source"] in ("ocr", "mixed")}


def release_row(s: dict, c: dict, split: dict, judgement: dict | None,
                grounding: float | None, node: str) -> dict[str, Any]:
    """The release row of one sample (``samples`` + its ``clean_samples``, split, scores)."""
    row = {
        "sample_id": s["sample_id"], "doc_id": s["doc_id"], "source": s["source"],
        "page": s["page"], "question": c.get("question", s["question"]),
        "answer": c.get("answer", s["answer"]), "cot": c.get("cot", s["cot"]),
        "split": split.get("split"), "cluster_id": split.get("cluster_id"),
        # observed labels (clean stage), the plan's beside them
        "qtype": c.get("qtype") or s["qtype"],
        "difficulty": c.get("difficulty") or s["difficulty"],
        "planned_qtype": s["qtype"], "planned_difficulty": s["difficulty"],
        "chunk_id": s["chunk_id"],
        # scrubbed quotes (clean_samples); samples.citations keeps the raw ones for lineage
        "citations": json.loads(c.get("citations") or s["citations"] or "[]"),
        "domain_node": node, "genre": s.get("genre") or "", "audience": s.get("audience") or "",
    }
    if c.get("cot_reason"):
        row["cot_removed"] = c["cot_reason"]  # the CoT was dropped, the sample kept
    if c.get("trimmed"):
        row["answer_trimmed"] = json.loads(c["trimmed"])  # unsupported last sentences cut
    if c.get("question_original"):
        row["question_original"] = c["question_original"]  # before its subject was supplied
    if c.get("flags"):
        row["flags"] = json.loads(c["flags"])  # rule findings kept as flags
    if grounding is not None:
        row["grounding"] = grounding
    if judgement is not None:
        row["scores"] = {k: judgement[k] for k in SCORE_KEYS}
    return row


def choose_version(releases: Path, content_hash: str) -> str:
    """``v0001-<hash>``: a new number only when the content changed since the last release."""
    existing = sorted(p.name for p in releases.glob("v[0-9][0-9][0-9][0-9]-*") if p.is_dir())
    for name in existing:
        if name.endswith(content_hash):
            return name
    last = int(re.match(r"v(\d+)", existing[-1]).group(1)) if existing else 0
    return f"v{last + 1:04d}-{content_hash}"


def tag_tables(db_uri: str, version: str, move: bool = True) -> dict[str, int]:
    """Tag the current version of every table with the release name; returns the versions.

    ``move=False`` (the version is already published, same content) keeps existing tags: they
    and the published ``summary.json`` (run id, fingerprints) describe the same build, so
    ``sftforge export --release`` can rebuild the files from them. A tag of a version that was
    never published (its gate failed) is moved to the tables this build read.
    """
    versions = store.versions(db_uri)
    for name, ver in versions.items():
        tags = store.connect(db_uri).open_table(name).tags
        if version not in tags.list():
            tags.create(version, ver)
        elif move and tags.get_version(version) != ver:
            tags.update(version, ver)
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
        "verified_citation_share": round(verified_citation_share(
            [s["citations"] for s in samples]), 4) if samples else 0.0,
        "cot_removed": dict(Counter(s["cot_removed"] for s in samples if "cot_removed" in s)),
        "answers_trimmed": sum(1 for s in samples if s.get("answer_trimmed")),
        "flags": dict(Counter(f for s in samples for f in s.get("flags", []))),
        "questions_rewritten": sum(1 for s in samples if s.get("question_original")),
        # share of samples whose observed type is the planned one (the plots count observed)
        "qtype_as_planned": round(sum(s["qtype"] == s.get("planned_qtype", s["qtype"])
                                      for s in samples) / len(samples), 4) if samples else 0.0,
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
    if "verify" in ctx.fingerprints:
        counts["verified"] = len(checks_for(ctx.db_uri, samples, ctx.fp("verify")))
    if "judge" in ctx.fingerprints:
        counts["judged"] = len(scores_for(ctx.db_uri, samples, ctx.fp("judge")))
    return {**counts, "exported": exported}


def build_documents(ctx: BuildContext) -> list[dict[str, Any]]:
    """The build's documents: source, doc_id, pages, hidden text spans and sample, flags."""
    cols = ["doc_id", "source", "n_pages", "hidden_spans", "hidden_sample", "flags", "reason",
            "text_source", "ocr_pages", "ocr_confidence"]
    docs = store.read(ctx.db_uri, "documents", columns=cols,
                      where=store.sql_in("doc_id", ctx.doc_ids)).to_dicts()
    order = {d: i for i, d in enumerate(ctx.doc_ids)}
    return [{**d, "hidden_spans": d["hidden_spans"] or 0, "hidden_sample": d["hidden_sample"] or "",
             "flags": json.loads(d["flags"] or "[]"), "notes": d.pop("reason") or "",
             "text_source": d["text_source"] or "text_layer",
             "ocr_pages": len(json.loads(d["ocr_pages"] or "[]")),
             "ocr_confidence": d["ocr_confidence"] or 0.0}
            for d in sorted(docs, key=lambda d: order[d["doc_id"]])]


def ocr_summary(documents: list[dict[str, Any]]) -> dict[str, Any]:
    """{pages, mean_confidence, documents} of the OCR'd pages of the build's documents."""
    pages = sum(d["ocr_pages"] for d in documents)
    weighted = sum(d["ocr_pages"] * d["ocr_confidence"] for d in documents)
    return {"pages": pages, "mean_confidence": round(weighted / pages, 4) if pages else None,
            "documents": sum(1 for d in documents if d["ocr_pages"])}


def build_summary(ctx: BuildContext, report: BuildReport, samples: list[dict], version: str,
                  export_stats: dict) -> dict:
    """The ``summary.json`` contract: counts per stage, drops, LLM usage, quarantine, splits."""
    usage, drops = report.usage, selection.funnel(ctx.db_uri, ctx.run_id)
    if export_stats.get("dropped"):
        drops["export"] = dict(Counter(d["reason"] for d in export_stats["dropped"]))
    extra: dict[str, Any] = {}
    if "select_chunks" in ctx.fingerprints:
        extra["skipped_chunks"] = skipped_by_reason(ctx.db_uri, ctx.doc_ids, ctx.fp("select_chunks"))
    if "verify_self_check" in report.stages:  # tasks/verify_self_check.py, while the model ran
        extra["verify_self_check"] = report.stages["verify_self_check"].extra["self_check"]
    if "judge" in ctx.fingerprints:
        extra["judge_self_check"] = self_check(ctx.db_uri, JudgeSettings(**report.params["judge"]),
                                               ctx.endpoints["judge"], ctx.fp("judge"))
    return {
        **extra, "version": version, "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "run_id": report.run_id, "counts": build_counts(ctx, len(samples)),
        "stages": public_stages({k: v.model_dump() for k, v in report.stages.items()},
                                report.params["input_path"]), "drop_reasons": drops,
        "llm_requests": usage.get("llm_requests", 0), "cache_hits": usage.get("cache_hits", 0),
        "tokens": {"prompt": usage.get("prompt_tokens", 0),
                   "completion": usage.get("completion_tokens", 0)},
        "documents": (documents := build_documents(ctx)), "ocr": ocr_summary(documents),
        "quarantined": public_quarantine(report.quarantined, report.params["input_path"]),
        "failures": failure_counts(ctx.db_uri),
        "failure_rates": report.failure_rates(),
        "duplicate_clusters": report.stages["dedup"].extra.get("clusters", 0)
        if "dedup" in report.stages else 0,
        "distributions": distributions(samples), "files": export_stats["files"],
        "split_warnings": split_warnings_of(distributions(samples)["splits"], report.params),
        "params": public_params(report.params),  # no local paths in a shared card
        **{k: export_stats[k] for k in ("general_mix", "dialogues", "preferences")
           if export_stats.get(k)},
        **({"coverage": coverage(read_nodes(ctx.db_uri), [s.get("domain_node") or ""
                                                          for s in samples])}
           if "domain_tree" in ctx.fingerprints else {}),
    }


# Tables the release rows are made from (a re-export reads them at the release's tag).
RELEASE_TABLES = ("samples", "clean_samples", "splits", "judgements", "verifications",
                  "selection", "chunks",
                  "groundings", "question_nodes", "reviews", "dialogues", "preference_pairs")


def release_rows(db_uri: str, run_id: str, fingerprints: dict[str, str]) -> list[dict]:
    """The export rows of build ``run_id``: its kept samples (``release_samples``) with the
    reviewers' edits, multi-turn follow-ups and DPO pairs it kept."""
    sample_ids = selection.kept(db_uri, run_id)
    samples = release_samples(db_uri, sample_ids, fingerprints.get("judge"),
                              fingerprints.get("verify"))
    # Reviewers' edits replace the text (marked human_edited); their rejects were dropped by
    # the review stage already.
    samples, _ = apply_reviews(samples, review_verdicts(db_uri))
    # Multi-turn follow-ups (tasks/dialogues.py) of the samples that have kept ones.
    turns = turns_for(db_uri, samples, fingerprints.get("dialogues"))
    # DPO pairs this build kept (tasks/preferences.py): rejected answer + judge margin.
    pairs = pairs_for(db_uri, run_id) if "pairs" in fingerprints else {}
    for s in samples:
        if s["sample_id"] in turns:
            s["turns"] = turns[s["sample_id"]]
        s.update(pairs.get(s["sample_id"], {}))
    return samples


def prepare_release(ctx: BuildContext, out_dir: str, export: ExportSettings) -> dict[str, str]:
    """Assemble the export rows of this build's kept samples, pick the version and its staging
    folder (``release_dir``); the rows go to ``HOME/runs/<run id>/`` as JSON Lines (a path keeps
    task inputs small)."""
    samples = release_rows(ctx.db_uri, ctx.run_id, ctx.fingerprints)
    parts: list = [samples, export.model_dump()]
    if export.general.enabled:  # the mixed file's bytes, not just its path, make the content
        parts.append(file_sha(export.general.path))
    content_hash = sha256_text(canonical_json(parts))[:8]
    releases = Path(out_dir) / "releases"
    version = choose_version(releases, content_hash)
    samples_path = Path(ctx.home) / "runs" / ctx.run_id / f"release-{version}.jsonl"
    samples_path.parent.mkdir(parents=True, exist_ok=True)
    write_jsonl(samples_path, samples)
    return {"version": version, "release_dir": str(staging_dir(releases, ctx.run_id, version)),
            "samples_path": str(samples_path)}


def refuse_empty(ctx: BuildContext, release: dict[str, str], exported: dict) -> None:
    """Raise :class:`EmptyRelease` (and drop the staging folder) when the export wrote no
    sample: an empty release is never published, ``LATEST`` stays where it was."""
    if exported["samples"]:
        return
    discard(Path(release["release_dir"]))
    drops = {stage: reasons for stage, reasons in selection.funnel(ctx.db_uri, ctx.run_id).items()
             if reasons}
    raise EmptyRelease(
        f"no sample was exported from {len(ctx.doc_ids)} document(s), so nothing was published "
        f"(LATEST unchanged); dropped: {drops or 'none'}")


def write_card(ctx: BuildContext, release: dict[str, str], export_stats: dict,
               report: BuildReport) -> dict:
    """Write ``summary.json`` and the dataset card; tag table versions; returns the summary."""
    target, version = Path(release["release_dir"]), release["version"]
    samples = read_jsonl(release["samples_path"])
    report.usage = run_usage(Path(ctx.home) / "llm_cache", ctx.run_id)
    summary = build_summary(ctx, report, samples, version, export_stats)
    previous = latest(releases_root(target))  # this release is not published yet
    dropped = summary["drop_reasons"].get("review", {}).get(REVIEW_DROP, 0)
    if feedback := review_feedback(ctx.db_uri, previous, samples, dropped):
        summary["review_feedback"] = feedback
    summary.update(release_facts(ctx, target, samples))  # sources, models, cost, diff, ...
    summary["table_versions"] = tag_tables(
        ctx.db_uri, version, move=not published(releases_root(target), version))
    # Examples the card quotes (skipped chunks, quarantine reasons, hidden-text samples) come
    # from the documents: the same guard as the samples. The user's own settings stay as given.
    summary = {**guard_value({k: v for k, v in summary.items() if k != "params"})[0],
               "params": summary["params"]}
    (target / "summary.json").write_text(json.dumps(summary, ensure_ascii=False, indent=2), "utf-8")
    render_card(target, summary)
    if "coverage" in summary:
        (target / "coverage.md").write_text(coverage_markdown(summary["coverage"]), "utf-8")
    write_calibration(target, ctx, report)
    return {**summary, "release_dir": str(target)}


def publish_release(summary: dict, gate: GateReport) -> dict:
    """Record the gate's scan in the staged ``summary.json`` and card, rename the release into
    place and point ``LATEST`` at it: only a release that passed the gate becomes the latest.
    Returns the summary with ``release_dir`` the published folder and ``republished`` True when
    that version was already published (its folder is kept as it was)."""
    target = Path(summary["release_dir"])
    summary = {**summary, "gate": {**gate.model_dump(), "passed": gate.passed,
                                   "summary": gate.summary_line()}}
    stored = {k: v for k, v in summary.items() if k != "release_dir"}
    (target / "summary.json").write_text(json.dumps(stored, ensure_ascii=False, indent=2), "utf-8")
    render_card(target, stored, redraw=False)  # same samples: the plots stand
    republished = published(releases_root(target), summary["version"])
    final = promote(target, summary["version"])
    return {**summary, "release_dir": str(final), "republished": republished}


def write_calibration(target: Path, ctx: BuildContext, report: BuildReport) -> None:
    """``dedup_calibration.md``: pairs of this build's samples per cosine band, to choose the
    dedup threshold."""
    settings = DedupSettings(**report.params.get("dedup", {}))
    text = calibration_report(ctx.db_uri, settings, cutoffs=CALIBRATION_CUTOFFS,
                              sample_ids=selection.reached(ctx.db_uri, ctx.run_id,
                                                           {"dedup", "review"}))
    (target / "dedup_calibration.md").write_text(text, "utf-8")


release_task = task(prepare_release, name="release", retries=2, cache_policy=NO_CACHE)
card_task = task(write_card, name="card", retries=2, cache_policy=NO_CACHE)
publish_task = task(publish_release, name="publish", retries=2, cache_policy=NO_CACHE)
