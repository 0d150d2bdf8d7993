"""Drawing the audit sample of a release: stratified, reproducible by seed, stored once.

Input: ``releases/<version>/samples.jsonl`` (sample_id, doc_id, qtype, split).
Output table: ``audit_samples`` (audit_id, release_version, sample_id, position, stratum, seed).
"""

from __future__ import annotations

import math
import random
from collections import defaultdict
from pathlib import Path
from typing import Any

from sftforge import store
from sftforge.ids import sha256_text
from sftforge.jsonl import read_jsonl

DEFAULT_FRACTION = 0.01
DEFAULT_MINIMUM = 100
DEFAULT_SEED = 0


class ReviewError(ValueError):
    """Bad review input (release, file or row); the message says what to do."""


def resolve_release(out_dir: Path, release: str | None) -> Path:
    """``out_dir/releases/<release>`` (default: the one named in ``releases/LATEST``)."""
    releases = out_dir / "releases"
    if release is None:
        latest = releases / "LATEST"
        if not latest.exists():
            raise ReviewError(f"{latest} does not exist: build a release first "
                              "(sftforge build PATH --out DIR) or name one")
        release = latest.read_text("utf-8").strip()
    path = Path(release) if Path(release).is_absolute() else releases / release
    if not (path / "samples.jsonl").exists():
        raise ReviewError(f"{path / 'samples.jsonl'} does not exist: name a release folder "
                          f"under {releases} (see `sftforge releases --out {out_dir}`)")
    return path


def sample_size(total: int, fraction: float = DEFAULT_FRACTION,
                minimum: int = DEFAULT_MINIMUM) -> int:
    """``fraction`` of ``total`` rounded up, at least ``minimum``, at most ``total``."""
    return min(total, max(minimum, math.ceil(total * fraction)))


def allocate(sizes: dict[str, int], n: int) -> dict[str, int]:
    """Items to draw per stratum: proportional, largest remainder, one each when n allows.

    Giving every stratum one item first keeps rare documents / question types / splits in
    the audit; the rest follows stratum size (Hamilton's method, ties by stratum name).
    """
    if n >= sum(sizes.values()):
        return dict(sizes)
    base = {k: 1 for k in sizes} if n >= len(sizes) else {k: 0 for k in sizes}
    room = {k: sizes[k] - base[k] for k in sizes}
    rest, capacity = n - sum(base.values()), sum(room.values())
    quota = {k: rest * room[k] / capacity if capacity else 0.0 for k in sizes}
    counts = {k: base[k] + math.floor(quota[k]) for k in sizes}
    leftover = n - sum(counts.values())
    by_remainder = sorted(sizes, key=lambda k: (-(quota[k] - math.floor(quota[k])), k))
    for k in by_remainder[:leftover]:
        counts[k] += 1
    return counts


def stratum_of(row: dict[str, Any]) -> str:
    """Stratum key of a release row: document x question type x split."""
    return f"{row.get('doc_id')}|{row.get('qtype') or '-'}|{row.get('split') or 'all'}"


def draw_sample(rows: list[dict[str, Any]], seed: int, fraction: float = DEFAULT_FRACTION,
                minimum: int = DEFAULT_MINIMUM) -> list[tuple[str, str]]:
    """(sample_id, stratum) of the audit sample, in a seeded shuffled review order."""
    strata: dict[str, list[str]] = defaultdict(list)
    for row in rows:
        strata[stratum_of(row)].append(row["sample_id"])
    counts = allocate({k: len(v) for k, v in strata.items()}, sample_size(len(rows), fraction, minimum))
    picked = []
    for key in sorted(strata):
        # One generator per stratum, seeded by (seed, stratum): adding a document elsewhere
        # does not change which items this stratum contributes.
        rng = random.Random(f"{seed}|{key}")
        picked += [(sid, key) for sid in rng.sample(sorted(strata[key]), counts[key])]
    random.Random(seed).shuffle(picked)  # mixed order, so reviewers do not tire on one document
    return picked


def ensure_audit(db_uri: str, release_dir: Path, seed: int = DEFAULT_SEED,
                 fraction: float = DEFAULT_FRACTION, minimum: int = DEFAULT_MINIMUM) -> list[str]:
    """Sample ids of the release's audit, drawing and storing it on first use.

    An audit is drawn once per release so every reviewer and every session sees the same
    items; asking again with another seed is an error rather than a silent redraw.
    """
    version = release_dir.name
    existing = audit_rows(db_uri, version)
    if existing:
        if existing[0]["seed"] != seed:
            raise ReviewError(f"the audit of {version} was drawn with seed {existing[0]['seed']}; "
                              f"run again with --seed {existing[0]['seed']}")
        return [r["sample_id"] for r in existing]
    picked = draw_sample(read_jsonl(release_dir / "samples.jsonl"), seed, fraction, minimum)
    store.upsert(db_uri, "audit_samples", [
        {"audit_id": sha256_text(f"{version}|{sid}")[:16], "release_version": version,
         "sample_id": sid, "position": i, "stratum": stratum, "seed": seed}
        for i, (sid, stratum) in enumerate(picked)])
    return [sid for sid, _ in picked]


def audit_rows(db_uri: str, version: str) -> list[dict[str, Any]]:
    """Stored ``audit_samples`` rows of release ``version``, in review order."""
    frame = store.read(db_uri, "audit_samples", where=f"release_version = '{_quote(version)}'")
    return frame.sort("position").to_dicts()


def _quote(value: str) -> str:
    return value.replace("'", "''")
