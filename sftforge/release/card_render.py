"""The dataset card: ``README.md`` with plots (PNG) rendered from ``summary.json``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no display on servers and CI
import matplotlib.pyplot as plt  # noqa: E402

from sftforge.release.split_warnings import split_warnings_section  # noqa: E402
from sftforge.review.card import audit_parts  # noqa: E402

FUNNEL = ("documents", "chunks", "questions", "samples", "judged", "exported")


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


def render_plots(target: Path, summary: dict[str, Any]) -> dict[str, str]:
    """Write the card's PNG plots; returns plot name -> file name."""
    dist, counts = summary["distributions"], summary["counts"]
    plots = {"funnel": _bar(target / "funnel.png", "Items per stage",
                            {k: counts[k] for k in FUNNEL if k in counts}, horizontal=True)}
    for key, title in (("splits", "Samples per split"), ("qtype", "Question types"),
                       ("score_histogram", "Judge overall score")):
        if dist.get(key):
            plots[key] = _bar(target / f"{key}.png", title, dist[key])
    return plots


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


def render_card(target: Path, summary: dict[str, Any]) -> Path:
    """Write ``target/README.md`` (the dataset card) and its plots."""
    plots = render_plots(target, summary)
    drops = {f"{stage}: {reason}": n for stage, reasons in summary["drop_reasons"].items()
             for reason, n in sorted(reasons.items())}
    quarantined = {q["path"]: q["reason"] for q in summary["quarantined"]}
    parts = [
        f"# sftforge dataset {summary['version']}",
        f"Built {summary['created_at']} from {summary['counts'].get('documents', 0)} documents; "
        f"{summary['counts'].get('exported', 0)} samples exported.",
        *audit_parts(summary),
        *([split_warnings_section(summary["split_warnings"])]
          if summary.get("split_warnings") else []),
        "## Counts per stage", _table(summary["counts"], ("stage", "items")),
        *(f"![{name}]({file})" for name, file in plots.items()),
        "## Drop reasons", _table(drops, ("stage: reason", "samples")) if drops else "None.",
        "## Sources", _table(summary["distributions"]["sources"], ("file", "samples")),
        "## Quarantined files", _table(quarantined, ("file", "reason")) if quarantined else "None.",
        *([skipped_chunks_section(summary["skipped_chunks"]).rstrip()]
          if "skipped_chunks" in summary else []),
        "## LLM usage",
        f"{summary['llm_requests']} requests sent by this build, {summary['cache_hits']} cache "
        f"hits, {summary['tokens']['prompt']} prompt + {summary['tokens']['completion']} "
        "completion tokens.",
        "## Files", _table(summary["files"], ("file", "rows")),
    ]
    path = target / "README.md"
    path.write_text("\n\n".join(parts) + "\n", "utf-8")
    return path
