"""General-purpose data mixed into the train split, so a domain expert keeps its general skills.

Input: a dataset file (JSON, JSON Lines or parquet; Alpaca, ShareGPT or OpenAI ``messages`` rows,
read and validated with ``sftforge.formats``) and a ratio: the share of general rows in the train
file (0.3 = 30:70). Output: rows in the export format of each trainer file, and a record of what
was mixed (source, sha256, ratio asked and achieved per split) for ``summary.json`` and the card.
General rows go into val/test only when ``in_eval`` is set: an evaluation split is there to
measure the domain. Which rows are taken is a seeded sample, the same for the same file and seed.
"""

from __future__ import annotations

import hashlib
import random
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, model_validator

from sftforge.formats import FormatError, Record, detect_format, from_record, read_rows
from sftforge.formats import row_problems, to_record

# Export format names -> sftforge.formats names.
EXPORT_FORMAT = {"alpaca": "alpaca", "sharegpt": "sharegpt", "openai": "messages"}


class GeneralMixSettings(BaseModel):
    """A general dataset to mix into the train split (off when ``path`` is empty)."""

    path: str = Field("", description="General dataset file (json/jsonl/parquet); empty = none")
    ratio: float = Field(0.0, ge=0.0, lt=1.0, description="Share of general rows in train")
    in_eval: bool = Field(False, description="Also mix general rows into val/test")
    seed: int = 0

    @model_validator(mode="after")
    def _check(self) -> "GeneralMixSettings":
        if self.path and self.ratio <= 0:
            raise ValueError(f"general mix {self.path}: set a ratio above 0 (e.g. 0.3 for 30:70)")
        # Checked here, when the build starts, not after hours of LLM work at export.
        if self.path and not Path(self.path).expanduser().is_file():
            raise ValueError(f"general mix: {self.path} is not a file; point "
                             "SFTFORGE_EXPORT__GENERAL__PATH at a .json/.jsonl/.parquet dataset")
        return self

    @property
    def enabled(self) -> bool:
        return bool(self.path) and self.ratio > 0


def load_general(path: str) -> tuple[str, list[Record]]:
    """(format, records) of a general dataset; raises ``FormatError`` naming the file and the
    first bad rows, since a silently skipped row would change the ratio."""
    file = Path(path).expanduser()
    rows = read_rows(file)
    fmt = detect_format(rows, where=str(file))
    if fmt not in ("alpaca", "sharegpt", "messages"):
        raise FormatError(f"{file}: {fmt} rows are preference pairs; a general SFT mix needs "
                          "alpaca, sharegpt or messages rows")
    bad = [(n, p) for n, row in rows if (p := row_problems(row, fmt))]
    if bad:
        where = "; ".join(f"row {n}: {', '.join(p)}" for n, p in bad[:3])
        raise FormatError(f"{file}: {len(bad)} of {len(rows)} {fmt} rows are invalid ({where}); "
                          f"fix them or check the file with `sftforge check {file}`")
    return fmt, [_plain(to_record(row, fmt)) for _, row in rows]


def _plain(rec: Record) -> Record:
    # Other columns (ids, sources) would become undeclared columns of the trainer file.
    rec.extra = {}
    return rec


def general_count(n_domain: int, ratio: float, available: int) -> int:
    """General rows that make them ``ratio`` of the file next to ``n_domain`` domain rows
    (capped by what the file has)."""
    return min(available, round(n_domain * ratio / (1.0 - ratio)))


def seeded_order(n: int, seed: int) -> list[int]:
    """Indices ``0..n-1`` in a seeded random order: the order general rows are taken in."""
    order = list(range(n))
    random.Random(seed).shuffle(order)
    return order


def file_sha(path: str) -> str:
    """sha256 of the file, so the card names exactly which data was mixed."""
    return hashlib.sha256(Path(path).expanduser().read_bytes()).hexdigest()


def rows_for(records: list[Record], export_fmt: str, with_cot: bool) -> list[dict[str, Any]]:
    """The general records as rows of one trainer file's format."""
    return [from_record(r, EXPORT_FORMAT[export_fmt], "keep" if with_cot else "strip")
            for r in records]


class GeneralMix:
    """The loaded general dataset of one export and what was taken from it, per split."""

    def __init__(self, settings: GeneralMixSettings) -> None:
        self.settings = settings
        self.format, self.records = load_general(settings.path)
        self.taken: dict[str, dict[str, Any]] = {}
        self._picked: dict[str, list[Record]] = {}
        # One order for all splits, taken from the front: splits never share a general row.
        self._order = seeded_order(len(self.records), settings.seed)

    def for_split(self, split: str | None, n_domain: int) -> list[Record]:
        """The general records of ``split`` (None = the one unsplit file, which is the train
        file); none for val/test unless ``in_eval``. Recorded for the report."""
        name = split or "all"
        if split not in ("train", None) and not self.settings.in_eval:
            return []
        if name not in self._picked:
            n = general_count(n_domain, self.settings.ratio, len(self._order))
            taken, self._order = self._order[:n], self._order[n:]
            self._picked[name] = [self.records[i] for i in sorted(taken)]
            total = n_domain + n
            self.taken[name] = {"domain": n_domain, "general": n,
                                "ratio": round(n / total, 4) if total else 0.0}
        return self._picked[name]

    def report(self) -> dict[str, Any]:
        """What ``summary.json`` records under ``general_mix``."""
        return {"source": Path(self.settings.path).name, "path": self.settings.path,
                "sha256": file_sha(self.settings.path), "format": self.format,
                "rows_available": len(self.records), "ratio_requested": self.settings.ratio,
                "in_eval": self.settings.in_eval, "splits": self.taken}
