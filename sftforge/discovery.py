"""Which files of an input folder a build (or the inbox watcher) takes: documents are hostile.

``discover_files(root, supported, exclude) -> (files, skipped)``: every supported file under
``root``, walked without following symlinks, except

- a symlink (file or folder) whose target lies outside ``root``: its content would be sent to
  the LLM and published ("symlink leads out of the input folder");
- a symlink inside ``root`` (its target is taken where it really is, unless that place is
  excluded below, which a link must not get around);
- a file modified less than ``settle_s`` seconds ago: still being copied, taken by the next
  build (the on-arrival deployment sets it; ``sftforge watch`` waits for the same);
- anything under a dot-folder or named with a leading dot (``.git``, ``.sftforge``, editor
  swap files);
- the folders in ``exclude`` (the build's output folder and data home) and any folder holding
  a :data:`MARKER` file: sftforge writes one into every output folder and data home it creates,
  so a release written inside the input folder is never ingested by the next build, and never
  re-triggers ``sftforge watch`` (which does not know the build's ``--out``).

``skipped`` lists (path, reason) for every symlink and marked folder passed over, so the build
log names each file it did not take. Pure and quick: stats only, no file is opened.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Callable, Iterable

log = logging.getLogger("sftforge")

MARKER = ".sftforge-output"  # in every output folder and data home sftforge creates
MARKER_TEXT = "Written by sftforge: this folder is never read as input.\n"


def mark_output(folder: Path) -> None:
    """Create ``folder`` if needed and leave the marker that keeps it out of every input."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    marker = folder / MARKER
    if not marker.exists():
        marker.write_text(MARKER_TEXT, "utf-8")


def _inside(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def discover_files(root: Path, supported: Callable[[Path], bool], exclude: Iterable[Path] = (),
                   settle_s: float = 0.0) -> tuple[list[Path], list[tuple[str, str]]]:
    """Files to ingest under ``root`` (sorted) and (path, reason) of those passed over."""
    root = Path(root).expanduser()
    real_root = root.resolve()
    excluded = {Path(p).expanduser().resolve() for p in exclude}
    files: list[Path] = []
    skipped: list[tuple[str, str]] = []
    for folder, dirs, names in os.walk(root, followlinks=False):
        here = Path(folder)
        dirs[:] = sorted(d for d in dirs if _keep_dir(here / d, real_root, excluded, skipped))
        for name in sorted(names):
            path = here / name
            if name.startswith(".") or not supported(path):
                continue
            reason = _file_skip_reason(path, real_root, settle_s)
            if reason:
                skipped.append((str(path), reason))
            elif path.is_file():
                files.append(path)
    for path, reason in skipped:
        log.warning("not ingested: %s (%s)", path, reason)
    return sorted(files), skipped


def _file_skip_reason(path: Path, real_root: Path, settle_s: float) -> str | None:
    """Why a supported file is not taken, or None."""
    if path.is_symlink():
        if not _inside(path.resolve(), real_root):
            return "symlink leads out of the input folder"
        return "symlink; its target is taken where it is"
    try:
        age = time.time() - path.stat().st_mtime
    except OSError:
        return None  # removed while we looked: is_file() drops it
    if age < settle_s:
        return f"changed {age:.0f} s ago, may still be copied; taken by the next build"
    return None


def _keep_dir(path: Path, real_root: Path, excluded: set[Path],
              skipped: list[tuple[str, str]]) -> bool:
    """Whether the walk enters ``path``; records why when a folder with content is passed over."""
    if path.name.startswith("."):
        return False  # .git, .sftforge, .staging: never documents
    if path.is_symlink():
        where = "out of the input folder" if not _inside(path.resolve(), real_root) else (
            "to a folder walked where it is")
        skipped.append((str(path), f"symlinked folder leads {where}; not followed"))
        return False
    if path.resolve() in excluded or (path / MARKER).exists():
        skipped.append((str(path), "sftforge output or data home; never read as input"))
        return False
    return True
