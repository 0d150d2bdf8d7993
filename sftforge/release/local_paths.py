"""No local path in a release: the card and ``summary.json`` travel with the dataset.

A release shared with others must not tell them where its author keeps files (a user name, a
client's folder name). Quarantined files are recorded relative to the input folder, the input
and output folders by their own names only. (The general-mix file keeps its path in
``params.export``: ``sftforge export --release`` reads it back to rebuild the mixed files.)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def relative_to_input(path: str, input_path: str) -> str:
    """``path`` relative to the input folder (the file name when it lies elsewhere)."""
    root, p = Path(input_path), Path(path)
    if root.is_file() or p == root:
        return p.name
    try:
        return p.relative_to(root).as_posix()
    except ValueError:
        return p.name


def public_params(params: dict[str, Any]) -> dict[str, Any]:
    """Build parameters with ``input_path`` and ``out_dir`` reduced to their folder names."""
    return {**params, **{k: Path(params[k]).name for k in ("input_path", "out_dir")
                         if params.get(k)}}


def public_quarantine(quarantined: list[dict[str, str]], input_path: str) -> list[dict[str, str]]:
    """Quarantine records with paths relative to the input folder; reasons name files only."""
    return [{**q, "path": relative_to_input(q["path"], input_path),
             "reason": q["reason"].replace(str(Path(q["path"]).parent) + "/", "")}
            for q in quarantined]


def public_stages(stages: dict[str, dict[str, Any]], input_path: str) -> dict[str, dict[str, Any]]:
    """Per-stage stats with the quarantine records in their ``extra`` made relative."""
    out = {}
    for name, stats in stages.items():
        extra = stats.get("extra") or {}
        if "quarantined" in extra:
            extra = {**extra, "quarantined": public_quarantine(extra["quarantined"], input_path)}
        out[name] = {**stats, "extra": extra}
    return out
