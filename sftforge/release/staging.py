"""Atomic releases: a release is written and gated in a staging folder, then renamed into place.

``OUT/releases/.staging/<run id>/<version>/`` holds a release while it is exported, carded and
gated; :func:`promote` renames it to ``OUT/releases/<version>/`` (one ``rename`` on the same
file system, so a reader sees no folder or a whole one) and then moves ``LATEST`` to it (written
to a temporary file and renamed over, so it never names a half-written name). A published
version folder is never removed or rewritten: a rebuild whose content equals a published
version keeps that folder as it is (the staging copy is dropped). A gate failure or an empty
build :func:`discard` s the staging folder and leaves ``LATEST`` as it was.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

STAGING = ".staging"
LATEST = "LATEST"


class EmptyRelease(Exception):
    """A build with no document or no exported sample: nothing is published."""

    @classmethod
    def no_files(cls, input_path: str) -> "EmptyRelease":
        """No supported file under the input path."""
        return cls(f"no document to build in {input_path}: put PDF, EPUB, Markdown or .txt "
                   "files there; nothing was published (LATEST unchanged)")

    @classmethod
    def all_quarantined(cls, quarantined: list[dict[str, str]]) -> "EmptyRelease":
        """Every file was quarantined (``quarantined``: [{path, reason}])."""
        reasons = "; ".join(q["reason"] for q in quarantined[:5])
        return cls(f"none of the {len(quarantined)} file(s) could be used, so nothing was "
                   f"published (LATEST unchanged): {reasons}")


def staging_dir(releases: Path, run_id: str, version: str) -> Path:
    """A fresh staging folder for ``version`` of run ``run_id`` (emptied if a retry left one)."""
    path = Path(releases) / STAGING / run_id / version
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    return path


def releases_root(release_dir: Path) -> Path:
    """``OUT/releases`` of a release folder, staged or published."""
    release_dir = Path(release_dir)
    if release_dir.parent.parent.name == STAGING:
        return release_dir.parent.parent.parent
    return release_dir.parent


def published(releases: Path, version: str) -> bool:
    """True when ``version`` is a published (renamed into place) release folder."""
    return (Path(releases) / version).is_dir()


def latest(releases: Path) -> str | None:
    """The version ``LATEST`` names, or None."""
    path = Path(releases) / LATEST
    if not path.exists():
        return None
    return path.read_text("utf-8").strip() or None


def promote(staged: Path, version: str) -> Path:
    """Rename the staged release into ``releases/<version>`` (kept as it is when already
    published) and point ``LATEST`` at it; returns the published folder."""
    staged = Path(staged)
    releases = releases_root(staged)
    final = releases / version
    if final.is_dir():
        discard(staged)  # same content already published: that folder stays untouched
    else:
        os.rename(staged, final)
        _remove_empty_parents(staged, releases)
    tmp = releases / f".{LATEST}.{os.getpid()}.tmp"
    tmp.write_text(version + "\n", "utf-8")
    os.replace(tmp, releases / LATEST)
    return final


def discard(staged: Path) -> None:
    """Remove a staging folder (a gate failure or an empty build); never a published one."""
    staged = Path(staged)
    if staged.parent.parent.name != STAGING:
        raise ValueError(f"{staged} is not a staging folder: published releases are never removed")
    shutil.rmtree(staged, ignore_errors=True)
    _remove_empty_parents(staged, releases_root(staged))


def _remove_empty_parents(staged: Path, releases: Path) -> None:
    """Drop ``.staging/<run id>`` and ``.staging`` once empty."""
    for folder in (staged.parent, staged.parent.parent):
        try:
            folder.rmdir()
        except OSError:
            return  # not empty (another build is staging) or already gone
