"""Warnings about splits that should have rows but are empty or small, for the card and the CLI.

The split stage keeps its stable hash assignment (``tasks/split.py``); with few samples that
assignment can leave val or test empty, which a user would only notice when training. This says
so after the build, with the numbers and what to do about it.
"""

from __future__ import annotations

import math
from typing import Any

SPLITS = ("train", "val", "test")


def _names(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + f" and {names[-1]}"


def _shortfall(counts: dict[str, int], ratios: dict[str, float], minimum: int) -> list[str]:
    """Splits with a ratio > 0 and fewer than ``minimum`` (at least 1) rows, in split order."""
    return [s for s in SPLITS if ratios.get(s, 0) > 0 and counts.get(s, 0) < max(1, minimum)]


def split_warnings(counts: dict[str, int], ratios: dict[str, float], minimum: int = 1,
                   group_by_document: bool = False) -> list[str]:
    """Warnings for ``counts`` (split -> exported samples) under ``ratios`` (split -> share).

    A split with a share > 0 is short when it has fewer than ``minimum`` rows (0 turns the check
    off). Returns ``[]`` or one sentence naming the splits, the numbers and the remedies.
    """
    total = sum(counts.get(s, 0) for s in SPLITS)
    short = _shortfall(counts, ratios, minimum) if minimum > 0 else []
    if not short:
        return []
    if total == 0:
        return ["no sample was exported, so every split is empty: see the drop reasons"]
    empty = [s for s in short if counts.get(s, 0) == 0]
    small = [f"{s} has {counts[s]}" for s in short if counts.get(s, 0) > 0]
    what = "; ".join(([f"{_names(empty)} {'is' if len(empty) == 1 else 'are'} empty"]
                      if empty else []) + small)
    shape = "/".join(f"{round(100 * ratios.get(s, 0))}" for s in SPLITS)
    need = max(1, minimum)
    wanted = math.ceil(need / min(ratios[s] for s in short))
    advice = ("add documents, raise the questions per chunk (SFTFORGE_QUESTIONS__MIN_PER_CHUNK "
              "and __MAX_PER_CHUNK), or change the ratios (SFTFORGE_SPLIT__VAL, "
              "SFTFORGE_SPLIT__TEST) or the minimum (SFTFORGE_SPLIT__MIN_PER_SPLIT)")
    groups = (" (split.group_by_document puts each document's samples in one split, so the "
              "number of documents counts here)" if group_by_document else "")
    return [f"{what}: {_cause(total, shape, groups, wanted, need)}. To fix it, {advice}. "
            "Samples keep their split when documents are added."]


def _cause(total: int, shape: str, groups: str, wanted: int, need: int) -> str:
    """Why a split is short: too few samples, or (with enough on average) the stable hash draw."""
    plural = "s" if total != 1 else ""
    if total < wanted:
        return (f"{total} exported sample{plural} {'are' if total != 1 else 'is'} too few for a "
                f"{shape} train/val/test split{groups}; about {wanted} are needed for {need} per "
                "split on average")
    # Each group of near-duplicates (or document) is placed by its hash, independently: with
    # few groups, a 10% split misses out by chance even when the average says it should not.
    return (f"the {total} exported sample{plural} would give {need} per split on average (about "
            f"{wanted} are needed), but each near-duplicate group{groups} is placed by its stable "
            f"hash, so a small build can miss a {shape} split by chance")


def split_warnings_of(split_counts: dict[str, int], params: dict[str, Any]) -> list[str]:
    """:func:`split_warnings` for a build: ``split_counts`` from the exported samples (the
    card's ``distributions.splits``), ``params`` the build parameters (``split`` settings)."""
    split = params.get("split") or {}
    if not split or set(split_counts) - set(SPLITS):  # no split stage: one file, no splits
        return []
    ratios = {s: float(split.get(s, 0)) for s in SPLITS}
    return split_warnings(split_counts, ratios, int(split.get("min_per_split", 1)),
                          bool(split.get("group_by_document", False)))


def split_warnings_section(warnings: list[str]) -> str:
    """Markdown section of the card (empty when there is nothing to say)."""
    if not warnings:
        return ""
    return "## Split warnings\n\n" + "\n".join(f"- **Warning:** {w}" for w in warnings)
