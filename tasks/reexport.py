"""Re-export of an earlier release: the tagged table versions -> the same files, byte for byte.

Reads the release's ``summary.json`` (``run_id``, ``fingerprints``, ``params.export``,
``table_versions``) and the tables of ``tasks.card.RELEASE_TABLES`` at the release's tag
(``sftforge.release.snapshot``), then runs the release and export code of a build on them
(``tasks.card.release_rows``,
``tasks.export.write_release``). Writes the trainer files, ``dataset_info.json`` and
``samples.jsonl`` into ``out_dir``; the card (``README.md``, plots, ``summary.json``) records a
build, not the data, and is not rewritten.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from sftforge.release.snapshot import checkout_release
from tasks.card import RELEASE_TABLES, release_rows
from tasks.export import ExportSettings, write_release

TABLES = RELEASE_TABLES


def release_summary(release_dir: Path) -> dict[str, Any]:
    """The release's ``summary.json``, checked for what a re-export needs."""
    path = Path(release_dir) / "summary.json"
    if not path.exists():
        raise FileNotFoundError(f"{path} not found: not a release folder of sftforge build")
    summary = json.loads(path.read_text("utf-8"))
    missing = [k for k in ("run_id", "fingerprints", "params", "table_versions") if k not in summary]
    if missing:
        raise ValueError(f"{path} lacks {missing}: the release was built by an older sftforge "
                         "and cannot be re-exported; build it again to get a re-exportable one")
    return summary


def tagged_rows(db_uri: str, release_dir: Path, summary: dict[str, Any]) -> list[dict[str, Any]]:
    """The release rows (``release_samples``) of the build that made ``release_dir``, read
    from the table versions tagged with its name."""
    tables = tuple(t for t in TABLES if t in summary["table_versions"])
    run = summary["run_id"].replace("'", "''")
    with tempfile.TemporaryDirectory(prefix="sftforge-release-") as tmp:
        checkout_release(db_uri, Path(release_dir).name, tmp, tables,
                         where={"selection": f"run_id = '{run}'"})
        rows = release_rows(tmp, summary["run_id"], summary["fingerprints"])
    # The build hands rows to export through a JSON Lines file: the same round trip here.
    return json.loads(json.dumps(rows, ensure_ascii=False))


def reexport(db_uri: str, release_dir: Path, out_dir: Path) -> dict[str, Any]:
    """Write the data files of ``release_dir`` again into ``out_dir`` from the tagged tables;
    returns ``write_release``'s stats plus ``files_compared``: file -> equal to the original."""
    summary = release_summary(release_dir)
    rows = tagged_rows(db_uri, release_dir, summary)
    stats = write_release(Path(out_dir), rows, ExportSettings(**summary["params"]["export"]))
    names = [*stats["files"], "dataset_info.json", "samples.jsonl"]
    same = {n: (Path(release_dir) / n).exists()
            and (Path(release_dir) / n).read_bytes() == (Path(out_dir) / n).read_bytes()
            for n in names} if Path(out_dir).resolve() != Path(release_dir).resolve() else {}
    return {**stats, "files_compared": same}
