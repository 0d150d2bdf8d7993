"""Card parts beyond the funnel: Hugging Face dataset-card YAML front matter, source documents,
recipe, models and prompt hashes, token usage and cost per role, split sizes, extra plots, the
diff against the previous release and known limitations. Input: ``summary.json`` (a release's
summary, with the keys of ``sftforge.release.facts``; older summaries lack some, and their
sections are left out)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Callable

import yaml

from sftforge.release.diff import diff_lines

TRAINER = re.compile(r"^(?P<fmt>alpaca|sharegpt|openai)(_(?P<split>train|val|test))?"
                     r"(?P<nocot>_nocot)?\.jsonl?$")
SIZE_CATEGORIES = ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"),
                   (1_000_000, "100K<n<1M"))
LIMITATIONS = [
    "Questions, answers and judge scores are written by language models; the judge is a model "
    "too, so its scores are estimates, not ground truth (see the human audit when present).",
    "Answers are grounded in one chunk each: knowledge that spans chunks or documents is "
    "under-represented.",
    "Dedup compares question + answer embeddings within this release; paraphrases below the "
    "threshold (see dedup_calibration.md) stay in.",
    "Token counts and costs come from the providers' usage fields; cost uses the configured "
    "price table and is an estimate.",
]


def size_category(n: int) -> str:
    """Hugging Face ``size_categories`` value for ``n`` rows."""
    return next((label for limit, label in SIZE_CATEGORIES if n < limit), "n>1M")


def configs(files: dict[str, int]) -> list[dict[str, Any]]:
    """One dataset config per trainer format (+ ``_nocot``), its files listed per split."""
    out: dict[str, list[dict[str, str]]] = {}
    for name in sorted(files):
        m = TRAINER.match(name)
        if m:
            config = m["fmt"] + (m["nocot"] or "")
            split = {"val": "validation", None: "train"}.get(m["split"], m["split"])
            out.setdefault(config, []).append({"split": split, "path": name})
    return [{"config_name": name, "data_files": data_files,
             **({"default": True} if name == "alpaca" else {})}
            for name, data_files in out.items()]


def front_matter(summary: dict[str, Any]) -> str:
    """The YAML block Hugging Face reads at the top of a dataset card's README.md."""
    langs = sorted({s["lang"] for s in summary.get("sources", []) if s.get("lang")})
    meta = {
        "license": summary.get("license") or "other",
        "language": langs or ["en"],
        "task_categories": ["question-answering", "text-generation"],
        "size_categories": [size_category(summary["counts"].get("exported", 0))],
        "tags": ["sft", "synthetic", "sftforge", "chain-of-thought"],
        "configs": configs(summary.get("files", {})),
    }
    return "---\n" + yaml.safe_dump(meta, allow_unicode=True, sort_keys=False) + "---\n"


def _table(head: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _money(value: float | None) -> str:
    return "unpriced" if value is None else f"${value:.4f}"


def source_part(summary: dict[str, Any]) -> list[str]:
    rows = [[s["file"], s["doc_id"], s["lang"], s["pages"], s["samples"],
             ", ".join(map(str, s["sample_pages"])) or "-"] for s in summary.get("sources", [])]
    return ["## Source documents", _table(
        ["file", "doc_id", "lang", "pages", "samples", "pages used"], rows)] if rows else []


def recipe_part(summary: dict[str, Any]) -> list[str]:
    parts = ["## Models and prompts", _table(["role", "model"], [
        [r, m] for r, m in summary.get("models", {}).items()]),
        _table(["prompt", "sha256 (16)"], [[p, h] for p, h in summary.get("prompts", {}).items()]),
        _table(["stage", "fingerprint"], [[s, f] for s, f in summary.get("fingerprints", {}).items()])]
    params = json.dumps(summary.get("params", {}), ensure_ascii=False, indent=2)
    return [*parts, "## Recipe (build parameters)", f"```json\n{params}\n```"]


def usage_part(summary: dict[str, Any]) -> list[str]:
    usage = summary.get("usage_by_role")
    if not usage:
        return []
    rows = [[role, ", ".join(u["models"]), u["requests"], u["cache_hits"], u["prompt_tokens"],
             u["completion_tokens"], _money(u["cost_usd"])] for role, u in usage.items()]
    return ["## Token usage and cost per role", _table(
        ["role", "model", "requests", "cache hits", "prompt tokens", "completion tokens",
         "estimated cost"], rows), f"Total estimated cost of this build: "
        f"{_money(summary.get('cost_usd'))} (requests answered from the cache cost nothing)."]


def diff_part(summary: dict[str, Any]) -> list[str]:
    diff = summary.get("diff")
    if "diff" not in summary:
        return []
    body = "\n".join(diff_lines(diff)).rstrip() if diff else "First release: nothing to compare."
    return ["## Changes since the previous release", body]


def plots_part(target: Path, summary: dict[str, Any],
               bar: Callable[[Path, str, dict], str]) -> list[str]:
    dist = {**summary["distributions"], **summary.get("more_distributions", {})}
    splits = dist.get("splits") or {}
    parts = ["## Split sizes", _table(["split", "samples"], [[k, v] for k, v in splits.items()])]
    for key, title in (("answer_length", "Answer length (characters)"),
                       ("difficulty", "Difficulty"), ("domain_node", "Domain nodes"),
                       ("judge_means", "Mean judge score per dimension"),
                       ("check_means", "Mean verifier P(yes) per check")):
        if dist.get(key):
            parts.append(f"![{key}]({bar(target / f'{key}.png', title, dist[key])})")
    return parts


def extra_parts(target: Path, summary: dict[str, Any],
                bar: Callable[[Path, str, dict], str]) -> list[str]:
    """Every section of this module, in card order (``bar`` draws a PNG bar chart)."""
    return [*source_part(summary), *plots_part(target, summary, bar), *recipe_part(summary),
            *usage_part(summary), *diff_part(summary), "## Known limitations",
            "\n".join(f"- {item}" for item in LIMITATIONS)]
