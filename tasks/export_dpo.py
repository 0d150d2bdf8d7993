"""DPO export: samples with a ``rejected`` answer -> preference files for LLaMA-Factory and
ms-swift, in the same release folder as the SFT files.

Files per split (``<name>.jsonl`` when no sample has a split):
``dpo_alpaca_<split>.jsonl`` (LLaMA-Factory ranking, Alpaca columns instruction/input/chosen/
rejected), ``dpo_sharegpt_<split>.jsonl`` (LLaMA-Factory ranking, ShareGPT ``conversations``
ending on the user turn + ``chosen``/``rejected`` message objects) and ``swift_dpo_<split>.jsonl``
(ms-swift: ``messages`` ending on the chosen answer + ``rejected_response``). Rows are written
by ``sftforge.formats`` (one definition of each format) and checked with its validator; the
two LLaMA-Factory files are registered in ``dataset_info.json`` with ``"ranking": true``
(``sftforge.formats.registry``); ms-swift reads its file by path.

Both answers go out without CoT: a ``<think>`` block on the chosen side only would teach the
model that thinking, not correctness, is what is preferred.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from sftforge.formats import Record, from_record, row_problems
from sftforge.formats.registry import dataset_entry
from sftforge.jsonl import write_jsonl

DPO_FILES = {"dpo_alpaca": "dpo-alpaca", "dpo_sharegpt": "dpo-sharegpt", "swift_dpo": "swift"}
DPO_FILE = re.compile(r"^(dpo_alpaca|dpo_sharegpt|swift_dpo)(_(train|val|test))?\.jsonl$")
DATASET_PREFIX = "sftforge_"


def pair_record(sample: dict[str, Any], system: str | None) -> Record:
    """The neutral preference record of a sample with ``rejected``."""
    return Record(messages=[{"role": "user", "content": sample["question"]}],
                  system=(system or "").strip(), chosen=sample["answer"],
                  rejected=sample["rejected"])


def write_dpo_files(out_dir: Path, samples: list[dict[str, Any]], system: str | None
                    ) -> tuple[dict[str, int], dict[str, Any], dict[str, Any] | None]:
    """Write the preference files of ``samples`` that carry a distinct ``rejected`` answer;
    returns (rows per file, ``dataset_info.json`` entries, report for ``summary.json``)."""
    pairs = [s for s in samples if s.get("rejected") and s["rejected"] != s["answer"]]
    if not pairs:
        return {}, {}, None
    groups: dict[str | None, list[dict]] = {}
    for s in pairs:
        groups.setdefault(s.get("split"), []).append(s)
    counts, entries = {}, {}
    for split in sorted(groups, key=lambda k: ("train", "val", "test", None).index(k)):
        for stem, fmt in DPO_FILES.items():
            rows = [from_record(pair_record(s, system), fmt) for s in groups[split]]
            bad = [p for r in rows for p in row_problems(r, fmt)]
            if bad:  # from_record writes valid rows; this guards the format library itself
                raise ValueError(f"{stem}: invalid {fmt} rows written: {bad[:3]}")
            name = stem + (f"_{split}" if split else "") + ".jsonl"
            counts[name] = write_jsonl(out_dir / name, rows)
            entry = dataset_entry(name, fmt, {k for r in rows for k in r})
            if entry is not None:
                entries[DATASET_PREFIX + name.removesuffix(".jsonl")] = entry
    margins = [s["preference"]["margin"] for s in pairs if (s.get("preference") or {}).get("margin")
               is not None]
    report = {"pairs": len(pairs), "files": sorted(counts),
              "kind": (pairs[0].get("preference") or {}).get("kind", "unknown"),
              "mean_margin": round(sum(margins) / len(margins), 2) if margins else None}
    return counts, entries, report
