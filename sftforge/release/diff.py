"""What changed between two releases: samples added, removed and changed, by document.

Input: the ``samples.jsonl`` of two release folders (the release contract: ``sample_id``,
``doc_id``, ``source`` and the exported fields). Sample ids are content hashes of their
lineage, so a sample whose id is in both releases but whose row differs was *changed* (cleaning,
split, scores, a review edit); a document with new bytes has a new ``doc_id``, so its samples are
removed and added, and the document is reported as replacing the one with the same file name.
Output: a plain dict (``summary.json`` ``diff``, the card's section, ``sftforge diff``).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from sftforge.ids import canonical_json, sha256_text
from sftforge.jsonl import read_jsonl
from sftforge.release.staging import releases_root

SAMPLES_FILE = "samples.jsonl"
_VERSION = re.compile(r"^v(\d{4})-")


def release_rows(release_dir: Path) -> list[dict[str, Any]]:
    """The rows of a release's ``samples.jsonl``; a clear error when the folder is not one."""
    path = Path(release_dir) / SAMPLES_FILE
    if not path.exists():
        raise FileNotFoundError(f"{path} not found: {release_dir} is not a release folder "
                                "(list them with `sftforge releases`)")
    return read_jsonl(path)


def _digest(row: dict[str, Any]) -> str:
    return sha256_text(canonical_json(row))


def _doc_entry(doc: dict[str, Any]) -> dict[str, Any]:
    return {"doc_id": doc["doc_id"], "source": doc.get("source") or "", "added": 0,
            "removed": 0, "changed": 0, "samples_before": 0, "samples_after": 0}


def diff_rows(old: list[dict[str, Any]], new: list[dict[str, Any]]) -> dict[str, Any]:
    """Diff of two releases' rows: counts, sorted id lists and one entry per touched document.

    Document ``status``: ``added`` (not in the old release), ``removed`` (not in the new one),
    ``changed`` (in both); ``replaces``/``replaced_by`` name the doc_id with the same file
    name on the other side (a document whose bytes changed).
    """
    before = {r["sample_id"]: r for r in old}
    after = {r["sample_id"]: r for r in new}
    added = sorted(after.keys() - before.keys())
    removed = sorted(before.keys() - after.keys())
    changed = sorted(s for s in before.keys() & after.keys()
                     if _digest(before[s]) != _digest(after[s]))
    docs: dict[str, dict[str, Any]] = {}
    for kind, ids, side in (("added", added, after), ("removed", removed, before),
                            ("changed", changed, after)):
        for sid in ids:
            row = side[sid]
            docs.setdefault(row["doc_id"], _doc_entry(row))[kind] += 1
    for rows, key in ((old, "samples_before"), (new, "samples_after")):
        for row in rows:
            if row["doc_id"] in docs:
                docs[row["doc_id"]][key] += 1
    _statuses(docs)
    return {"added": len(added), "removed": len(removed), "changed": len(changed),
            "unchanged": len(before.keys() & after.keys()) - len(changed),
            "samples_before": len(before), "samples_after": len(after),
            "added_ids": added, "removed_ids": removed, "changed_ids": changed,
            "documents": sorted(docs.values(), key=lambda d: (d["source"], d["doc_id"]))}


def _statuses(docs: dict[str, dict[str, Any]]) -> None:
    """Set each document's status and pair replaced documents by file name."""
    for d in docs.values():
        d["status"] = ("added" if d["samples_before"] == 0 else
                       "removed" if d["samples_after"] == 0 else "changed")
    gone = {d["source"]: d for d in docs.values() if d["status"] == "removed" and d["source"]}
    for d in docs.values():
        old = gone.get(d["source"]) if d["status"] == "added" else None
        if old is not None:
            d["replaces"], old["replaced_by"] = old["doc_id"], d["doc_id"]


def release_number(name: str) -> int:
    """The number of a release folder name ``vNNNN-<hash>`` (-1 when it is not one)."""
    m = _VERSION.match(name)
    return int(m.group(1)) if m else -1


def previous_release(releases_dir: Path, version: str) -> Path | None:
    """The release folder numbered just below ``version`` (None for the first release)."""
    number = release_number(version)
    older = [p for p in Path(releases_dir).glob("v[0-9][0-9][0-9][0-9]-*")
             if p.is_dir() and 0 <= release_number(p.name) < number]
    return max(older, key=lambda p: release_number(p.name)) if older else None


def resolve_release(releases_dir: Path, name: str) -> Path:
    """A release folder from its full name or its number (``v0003`` / ``3``)."""
    releases_dir = Path(releases_dir)
    if (releases_dir / name).is_dir():
        return releases_dir / name
    wanted = int(name.lstrip("v")) if name.lstrip("v").isdigit() else -2
    hits = [p for p in releases_dir.glob("v[0-9][0-9][0-9][0-9]-*")
            if p.is_dir() and release_number(p.name) == wanted]
    if not hits:
        known = sorted(p.name for p in releases_dir.glob("v[0-9]*") if p.is_dir())
        raise FileNotFoundError(f"no release {name!r} in {releases_dir}; known: {known or 'none'}")
    return hits[0]


def diff_releases(old_dir: Path, new_dir: Path) -> dict[str, Any]:
    """:func:`diff_rows` of two release folders, with their names as ``from`` and ``to``."""
    out = diff_rows(release_rows(old_dir), release_rows(new_dir))
    return {"from": Path(old_dir).name, "to": Path(new_dir).name, **out}


def diff_against_previous(release_dir: Path) -> dict[str, Any] | None:
    """Diff of ``release_dir`` against the release numbered just below it (None if first)."""
    release_dir = Path(release_dir)  # staged while the build writes its card
    prev = previous_release(releases_root(release_dir), release_dir.name)
    return diff_releases(prev, release_dir) if prev is not None else None


def diff_lines(diff: dict[str, Any]) -> list[str]:
    """Markdown lines of a diff (the card section and ``sftforge diff``)."""
    lines = [f"From {diff['from']} to {diff['to']}: {diff['added']} samples added, "
             f"{diff['removed']} removed, {diff['changed']} changed, {diff['unchanged']} "
             f"unchanged ({diff['samples_before']} -> {diff['samples_after']}).", ""]
    if not diff["documents"]:
        return lines
    lines += ["| document | doc_id | status | added | removed | changed |",
              "|---|---|---|---:|---:|---:|"]
    for d in diff["documents"]:
        note = (f" (replaces {d['replaces']})" if "replaces" in d else
                f" (replaced by {d['replaced_by']})" if "replaced_by" in d else "")
        lines.append(f"| {d['source']} | {d['doc_id']} | {d['status']}{note} | {d['added']} | "
                     f"{d['removed']} | {d['changed']} |")
    return lines
