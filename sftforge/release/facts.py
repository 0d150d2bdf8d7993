"""Release facts for ``summary.json`` beyond the counts: sources, recipe, models, prompt hashes,
LLM usage and cost per role, length distributions and the diff against the previous release.

Reads ``documents`` (source, doc_id, n_pages, lang), the request log of the run
(``sftforge.llm.cache.stage_usage``), the release's ``samples.jsonl`` rows and the previous
release folder; writes nothing.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from sftforge import store
from sftforge.llm.cache import stage_usage
from sftforge.llm.costs import usage_by_role
from sftforge.llm.prompting import prompt_sha
from sftforge.release.diff import diff_against_previous
from sftforge.settings import Settings
from sftforge.stage import BuildContext, LLMStage

# Answer lengths (characters) are binned on these edges for the card's plot.
LENGTH_EDGES = (100, 200, 400, 800, 1600)


def llm_stages() -> dict[str, type[LLMStage]]:
    """Every LLM stage class loaded in this process, by stage name (role, prompt)."""
    out: dict[str, type[LLMStage]] = {}
    todo = list(LLMStage.__subclasses__())
    while todo:
        cls = todo.pop()
        todo += cls.__subclasses__()
        if isinstance(getattr(cls, "name", None), str):
            out[cls.name] = cls
    return out


def sources(db_uri: str, doc_ids: list[str], samples: list[dict[str, Any]]) -> list[dict]:
    """One row per document of the build: file, doc_id, language, pages, samples and the
    pages those samples come from."""
    docs = store.read(db_uri, "documents", where=store.sql_in("doc_id", doc_ids),
                      columns=["doc_id", "source", "lang", "n_pages"])
    per_doc: dict[str, list[dict]] = {}
    for s in samples:
        per_doc.setdefault(s["doc_id"], []).append(s)
    return [{"file": d["source"], "doc_id": d["doc_id"], "lang": d["lang"],
             "pages": d["n_pages"], "samples": len(per_doc.get(d["doc_id"], [])),
             "sample_pages": sorted({s["page"] for s in per_doc.get(d["doc_id"], [])
                                     if s.get("page") is not None})}
            for d in sorted(docs.to_dicts(), key=lambda d: (d["source"] or "", d["doc_id"]))]


def length_bins(samples: list[dict[str, Any]]) -> dict[str, int]:
    """Answer lengths in characters, counted per bin (``<100``, ``100-199``, ..., ``1600+``)."""
    labels = [f"<{LENGTH_EDGES[0]}"] + [f"{a}-{b - 1}" for a, b in zip(LENGTH_EDGES, LENGTH_EDGES[1:])]
    labels.append(f"{LENGTH_EDGES[-1]}+")
    counts = Counter(sum(len(s.get("answer") or "") >= e for e in LENGTH_EDGES) for s in samples)
    return {label: counts[n] for n, label in enumerate(labels)}


def extra_distributions(samples: list[dict[str, Any]]) -> dict[str, Any]:
    """Plot data the base distributions lack: answer lengths, domain nodes (when present) and
    the mean of each judge dimension and of each verifier check."""
    out: dict[str, Any] = {"answer_length": length_bins(samples)}
    nodes = Counter(s["domain_node"] for s in samples if s.get("domain_node"))
    if nodes:
        out["domain_node"] = dict(nodes.most_common(20))
    scored = [s["scores"] for s in samples if s.get("scores")]
    if scored:
        out["judge_means"] = {k: round(sum(s[k] for s in scored) / len(scored), 2)
                              for k in scored[0]}
    checked = [s["checks"] for s in samples if s.get("checks")]
    if checked:
        out["check_means"] = {k: round(sum(c[k] for c in checked) / len(checked), 3)
                              for k in checked[0]}
    return out


def release_facts(ctx: BuildContext, release_dir: Path, samples: list[dict[str, Any]]) -> dict:
    """The ``summary.json`` keys this module adds (see the module docstring)."""
    stages = llm_stages()
    roles = {name: cls.role for name, cls in stages.items()}
    usage = usage_by_role(stage_usage(Path(ctx.home) / "llm_cache", ctx.run_id), roles,
                          Settings().prices)
    costs = [u["cost_usd"] for u in usage.values() if u["cost_usd"] is not None]
    used = {cls.prompt for name, cls in stages.items() if name in ctx.fingerprints}
    return {
        "sources": sources(ctx.db_uri, ctx.doc_ids, samples),
        "fingerprints": dict(ctx.fingerprints),
        "models": {role: spec.model for role, spec in sorted(ctx.endpoints.items())
                   if any(cls.role == role and n in ctx.fingerprints for n, cls in stages.items())},
        "prompts": {name: prompt_sha(name) for name in sorted(used)},
        "usage_by_role": usage, "cost_usd": round(sum(costs), 6) if costs else None,
        "more_distributions": extra_distributions(samples),
        "diff": _without_ids(diff_against_previous(release_dir)),
    }


def _without_ids(diff: dict[str, Any] | None) -> dict[str, Any] | None:
    """The diff without its id lists (``sftforge diff --ids`` prints them)."""
    return {k: v for k, v in diff.items() if not k.endswith("_ids")} if diff else None
