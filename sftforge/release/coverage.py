"""Coverage of the domain tree by a release: samples per node, empty and thin nodes.

Input: the ``domain_nodes`` rows and the release's ``domain_node`` per sample. Output: the
``coverage`` section of ``summary.json`` and ``coverage.md``. A node's count includes its
descendants; an active leaf is *empty* with no sample and *thin* with fewer than
``thin_fraction`` x the mean count of the active leaves (at least one sample short of it).
When one leaf of several holds more than ``DOMINANT_SHARE`` of the tagged samples, the report
names it (``dominant``) and the card shows it as a warning: the tree does not spread the corpus.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from sftforge.domain.tree import leaves, path_of

THIN_FRACTION = 0.5
DOMINANT_SHARE = 0.6


def coverage(nodes: dict[str, dict[str, Any]], sample_nodes: list[str],
             thin_fraction: float = THIN_FRACTION) -> dict[str, Any]:
    """{nodes: [{node_id, path, level, leaf, samples}], empty: [path], thin: [path], untagged}."""
    direct = Counter(sample_nodes)
    rolled: Counter[str] = Counter()
    for nid, n in direct.items():
        while nid and nid in nodes:
            rolled[nid] += n
            nid = nodes[nid]["parent_id"]
    active = sorted((v for v in nodes.values() if v["status"] == "active"),
                    key=lambda v: path_of(v["node_id"], nodes))
    tips = leaves(nodes)
    tip_ids = {t["node_id"] for t in tips}
    mean = sum(rolled[t["node_id"]] for t in tips) / len(tips) if tips else 0.0
    thin_below = thin_fraction * mean
    return {
        "nodes": [{"node_id": v["node_id"], "path": path_of(v["node_id"], nodes),
                   "level": v["level"], "leaf": v["node_id"] in tip_ids,
                   "samples": rolled[v["node_id"]]} for v in active],
        "empty": sorted(path_of(t["node_id"], nodes) for t in tips if not rolled[t["node_id"]]),
        "thin": sorted(path_of(t["node_id"], nodes) for t in tips
                       if 0 < rolled[t["node_id"]] < thin_below),
        "thin_below": round(thin_below, 2),
        "untagged": sum(n for nid, n in direct.items() if nid not in nodes),
        "dominant": _dominant(tips, rolled, nodes),
    }


def _dominant(tips: list[dict[str, Any]], rolled: Counter[str],
              nodes: dict[str, dict[str, Any]]) -> dict[str, Any] | None:
    """{path, samples, share} of the leaf holding most of the tagged samples, when it holds
    more than ``DOMINANT_SHARE`` of them and there are other leaves; else None."""
    total = sum(rolled[t["node_id"]] for t in tips)
    if len(tips) < 2 or not total:
        return None
    top = max(tips, key=lambda t: (rolled[t["node_id"]], t["node_id"]))
    share = rolled[top["node_id"]] / total
    if share <= DOMINANT_SHARE:
        return None
    return {"path": path_of(top["node_id"], nodes), "samples": rolled[top["node_id"]],
            "share": round(share, 3)}


def dominant_warning(report: dict[str, Any]) -> str:
    """The card's one-line warning when one leaf holds most samples ("" when none does)."""
    dom = report.get("dominant")
    if not dom:
        return ""
    return (f"**Warning:** one domain node, {dom['path']}, holds {dom['samples']} samples "
            f"({dom['share']:.0%} of the tagged ones): the tree does not spread this corpus; "
            "check the documents' headings or pin a tree file.")


def coverage_markdown(report: dict[str, Any]) -> str:
    """``coverage.md``: the tree with samples per node, then the empty and thin nodes."""
    lines = ["# Domain coverage", ""]
    if warning := dominant_warning(report):
        lines += [warning, ""]
    lines += ["| node | samples |", "| --- | ---: |"]
    lines += [f"| {'&nbsp;&nbsp;' * (n['level'] - 1)}{n['path'].split(' / ')[-1]} "
              f"| {n['samples']} |" for n in report["nodes"]]
    lines += ["", f"## Empty nodes ({len(report['empty'])})", ""]
    lines += [f"- {p}" for p in report["empty"]] or ["None."]
    lines += ["", f"## Thin nodes ({len(report['thin'])}, under {report['thin_below']} samples)",
              ""]
    lines += [f"- {p}" for p in report["thin"]] or ["None."]
    if report["untagged"]:
        lines += ["", f"{report['untagged']} samples have no domain node."]
    return "\n".join(lines) + "\n"
