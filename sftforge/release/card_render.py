"""The dataset card: ``README.md`` with plots (PNG) rendered from ``summary.json``."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import matplotlib

matplotlib.use("Agg")  # no display on servers and CI
import matplotlib.pyplot as plt  # noqa: E402

from sftforge.grounding.planted import catch_rate_lines  # noqa: E402
from sftforge.release.coverage import dominant_warning  # noqa: E402
from sftforge.verifier.selfcheck import self_check_lines  # noqa: E402
from sftforge.release.fonts import use_cjk_fallback  # noqa: E402
from sftforge.release.split_warnings import split_warnings_section  # noqa: E402
from sftforge.review.card import audit_parts  # noqa: E402
from sftforge.release.card_extras import extra_sections  # noqa: E402
from sftforge.release.card_sections import extra_parts, front_matter  # noqa: E402

FUNNEL = ("documents", "chunks", "questions", "samples", "verified", "judged", "exported")


def _bar(path: Path, title: str, data: dict[str, int | float], horizontal: bool = False) -> str:
    fig, ax = plt.subplots(figsize=(6, 3.2))
    labels, values = list(map(str, data)), list(data.values())
    (ax.barh if horizontal else ax.bar)(labels, values, color="#3b6ea5")
    if horizontal:
        ax.invert_yaxis()  # read top-down in pipeline order
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path.name


def _painter(draw: Callable[..., str], redraw: bool) -> Callable[..., str]:
    """``draw``, or with ``redraw=False`` a ``draw`` that keeps a plot already at its path
    (drawn for the same samples: the card is rewritten after the gate or a review)."""
    if redraw:
        return draw

    def kept(path: Path, *args: Any, **kwargs: Any) -> str:
        return path.name if path.exists() else draw(path, *args, **kwargs)
    return kept


def render_plots(target: Path, summary: dict[str, Any], redraw: bool = True) -> dict[str, str]:
    """Write the card's PNG plots; returns plot name -> file name."""
    use_cjk_fallback()  # domain nodes and sources may be Chinese
    bar = _painter(_bar, redraw)
    dist, counts = summary["distributions"], summary["counts"]
    plots = {"funnel": bar(target / "funnel.png", "Items per stage",
                           {k: counts[k] for k in FUNNEL if k in counts}, horizontal=True)}
    for key, title in (("splits", "Samples per split"), ("qtype", "Question types"),
                       ("score_histogram", "Judge overall score")):
        if dist.get(key):
            plots[key] = bar(target / f"{key}.png", title, dist[key])
    if summary.get("coverage", {}).get("nodes"):
        plots["domain_nodes"] = _painter(_node_bars, redraw)(target / "domain_nodes.png",
                                                              summary["coverage"])
    return plots


def _node_bars(path: Path, cov: dict[str, Any], most: int = 40) -> str:
    """Samples per leaf domain node, one bar each (labelled by the leaf), tree order."""
    tips = [n for n in cov["nodes"] if n.get("leaf")][:most]
    fig, ax = plt.subplots(figsize=(7, 1.2 + 0.28 * len(tips)))
    ax.barh([n["path"].split(" / ")[-1][:40] for n in tips], [n["samples"] for n in tips],
            color="#3b6ea5")
    ax.invert_yaxis()
    ax.set_title("Samples per domain node (leaves)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path.name


def coverage_section(cov: dict[str, Any]) -> str:
    """Markdown section of the card: empty and thin domain nodes (full tree in coverage.md)."""
    empty = ", ".join(cov["empty"]) or "none"
    thin = ", ".join(cov["thin"]) or "none"
    warning = dominant_warning(cov)
    return (f"## Domain coverage\n\n{warning + chr(10) * 2 if warning else ''}"
            f"{len(cov['nodes'])} active domain nodes (samples per node in "
            f"`coverage.md`). Empty: {empty}. Thin (under {cov['thin_below']} samples): {thin}.")


def _table(rows: dict[str, Any], head: tuple[str, str]) -> str:
    lines = [f"| {head[0]} | {head[1]} |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in rows.items()]
    return "\n".join(lines)


def skipped_chunks_section(summary: dict[str, dict[str, Any]]) -> str:
    """Markdown section of the card listing skipped chunks by reason with examples."""
    if not summary:
        return "## Chunks skipped before question generation\n\nNone.\n"
    lines = ["## Chunks skipped before question generation", "",
             "| reason | chunks | examples |", "| --- | ---: | --- |"]
    for key, entry in summary.items():
        shown = "<br>".join(f"{e['source']} p.{e['page']}: {e['text'].replace('|', '/')}"
                            for e in entry["examples"])
        lines.append(f"| {key} | {entry['count']} | {shown} |")
    return "\n".join(lines) + "\n"


def documents_section(documents: list[dict[str, Any]], samples: dict[str, int]) -> str:
    """Markdown table of the build's documents: samples, pages, hidden text and flags."""
    lines = ["| file | doc_id | pages | OCR'd pages (mean confidence) | samples | "
             "hidden text spans | flags |", "|---|---|---|---|---|---|---|"]
    for d in documents:
        flags = ", ".join(f["flag"] for f in d["flags"]) or "-"
        ocr = (f"{d['ocr_pages']} ({d['ocr_confidence']:.2f})" if d.get("ocr_pages") else "-")
        lines.append(f"| {d['source']} | {d['doc_id']} | {d['n_pages']} | {ocr} | "
                     f"{samples.get(d['source'], 0)} | {d['hidden_spans']} | {flags} |")
    lines += _ocr_lines(documents)
    hidden = [d for d in documents if d["hidden_sample"]]
    if hidden:
        lines += ["", "Text a reader cannot see (left out of the dataset), a sample per document:"]
        lines += [f"- {d['source']}: {d['hidden_sample'][:200]}" for d in hidden]
    details = [f"- {d['source']}: {f['flag']}: {f['detail']}" for d in documents
               for f in d["flags"]]
    return "\n".join(lines + ([""] + details if details else []))


def _ocr_lines(documents: list[dict[str, Any]]) -> list[str]:
    """The OCR sentence under the documents table, and the pages each document left out."""
    pages = sum(d.get("ocr_pages", 0) for d in documents)
    out = []
    if pages:
        mean = sum(d["ocr_pages"] * d["ocr_confidence"] for d in documents) / pages
        out += ["", f"{pages} page(s) had no usable text layer and were read by OCR (mean "
                f"confidence {mean:.2f}); samples from them carry `ocr: true` in samples.jsonl."]
    notes = [f"- {d['source']}: {d['notes']}" for d in documents if d.get("notes")]
    return out + (["", "Pages left out of parsed documents:"] + notes if notes else [])


def _sample_notes(dist: dict[str, Any]) -> list[str]:
    """What the card's first paragraph says of the exported samples: verified citations, and
    the reasoning chains and answer tails clean removed (when any)."""
    notes = [f"{dist.get('verified_citation_share', 0):.0%} of them carry at least one citation "
             "verified in its source passage"]
    if dist.get("cot_removed"):
        notes.append(f"{sum(dist['cot_removed'].values())} kept without their reasoning chain "
                     f"({dist['cot_removed']})")
    if dist.get("answers_trimmed"):
        notes.append(f"{dist['answers_trimmed']} answers lost unsupported last sentences "
                     "(`answer_trimmed` in samples.jsonl)")
    if "qtype_as_planned" in dist and dist.get("sources"):
        notes.append(f"question types are read off each sample ({dist['qtype_as_planned']:.0%} "
                     "are the type their plan asked for; `planned_qtype` in samples.jsonl)")
    if dist.get("questions_rewritten"):
        notes.append(f"{dist['questions_rewritten']} questions were given their subject from "
                     "the section heading (`question_original` in samples.jsonl)")
    if dist.get("flags"):
        notes.append(f"{sum(dist['flags'].values())} kept with a rule flag ({dist['flags']}; "
                     "`flags` in samples.jsonl)")
    return notes


def render_card(target: Path, summary: dict[str, Any], redraw: bool = True) -> Path:
    """Write ``target/README.md`` (the dataset card) and its plots; ``redraw=False`` keeps the
    plots already drawn for the same samples (the card is rewritten after the release gate)."""
    plots = render_plots(target, summary, redraw)
    drops = {f"{stage}: {reason}": n for stage, reasons in summary["drop_reasons"].items()
             for reason, n in sorted(reasons.items())}
    quarantined = {q["path"]: q["reason"] for q in summary["quarantined"]}
    parts = [
        f"# sftforge dataset {summary['version']}",
        "; ".join([
            f"Built {summary['created_at']} from {summary['counts'].get('documents', 0)} "
            f"documents", f"{summary['counts'].get('exported', 0)} samples exported",
            *_sample_notes(summary["distributions"])]) + ".",
        *audit_parts(summary),
        *([split_warnings_section(summary["split_warnings"])]
          if summary.get("split_warnings") else []),
        "## Counts per stage", _table(summary["counts"], ("stage", "items")),
        *(f"![{name}]({file})" for name, file in plots.items()),
        "## Drop reasons", _table(drops, ("stage: reason", "samples")) if drops else "None.",
        *(["## Verifier self-check", "\n".join(self_check_lines(summary["verify_self_check"]))]
          if summary.get("verify_self_check") else []),
        *(["## Judge self-check", "\n".join(catch_rate_lines(summary["judge_self_check"]))]
          if "judge_self_check" in summary else []),
        "## Sources", documents_section(summary.get("documents", []),
                                        summary["distributions"]["sources"]),
        "## Quarantined files", _table(quarantined, ("file", "reason")) if quarantined else "None.",
        *([skipped_chunks_section(summary["skipped_chunks"]).rstrip()]
          if "skipped_chunks" in summary else []),
        *([coverage_section(summary["coverage"])] if "coverage" in summary else []),
        "## LLM usage",
        f"{summary['llm_requests']} requests sent by this build, {summary['cache_hits']} cache "
        f"hits, {summary['tokens']['prompt']} prompt + {summary['tokens']['completion']} "
        "completion tokens.",
        *extra_sections(summary),
        "## Files", _table(summary["files"], ("file", "rows")),
        *(["## Release gate", f"Scanned before publishing: {summary['gate']['summary']}."]
          if "gate" in summary else []),
        *extra_parts(target, summary, _painter(_bar, redraw)),
    ]
    path = target / "README.md"
    path.write_text(front_matter(summary) + "\n" + "\n\n".join(parts) + "\n", "utf-8")
    return path
