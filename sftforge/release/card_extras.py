"""Dataset card sections for issue 7's outputs: the general-data mix, multi-turn dialogues and
preference (DPO) pairs. Each reads its key of ``summary.json`` and is empty when absent."""

from __future__ import annotations

from typing import Any


def general_mix_section(mix: dict[str, Any] | None) -> list[str]:
    """Which general dataset was mixed in, and the ratio asked for and achieved per split."""
    if not mix:
        return []
    lines = ["| split | domain rows | general rows | general share |", "|---|---:|---:|---:|"]
    lines += [f"| {s} | {v['domain']} | {v['general']} | {v['ratio']:.1%} |"
              for s, v in mix["splits"].items()]
    where = "train, val and test" if mix["in_eval"] else "the train split only"
    return ["## General data mixed in",
            f"`{mix['source']}` ({mix['format']}, {mix['rows_available']} rows, sha256 "
            f"`{mix['sha256'][:16]}`), asked for {mix['ratio_requested']:.0%} of {where}.",
            "\n".join(lines)]


def dialogues_section(dialogues: dict[str, Any] | None) -> list[str]:
    """How many exported samples are multi-turn, by number of turns."""
    if not dialogues:
        return []
    rows = "\n".join(f"| {k} | {v} |" for k, v in sorted(dialogues["by_turns"].items()))
    return ["## Multi-turn dialogues",
            f"{dialogues['samples']} samples carry follow-up turns grounded in their passage.",
            "| user turns | samples |\n|---|---:|\n" + rows]


def preferences_section(pairs: dict[str, Any] | None, stage: dict[str, Any] | None
                        ) -> list[str]:
    """Preference pairs written, those left out and why (the ``pairs`` stage's record), and
    the judge margins."""
    if not pairs:
        return []
    stage = stage or {}
    dropped = "; ".join(f"{r}: {n}" for r, n in sorted(stage.get("dropped", {}).items()))
    dropped = dropped or "none"
    return ["## Preference pairs (DPO)",
            f"{pairs['pairs']} pairs (chosen = the judged answer, rejected = {pairs['kind']}); "
            f"kept when the judge scores chosen at least {stage.get('extra', {}).get('margin')} "
            "above rejected "
            f"(mean margin {pairs['mean_margin']}). Left out: {dropped}.",
            "Files: " + ", ".join(f"`{f}`" for f in pairs["files"])]


def extra_sections(summary: dict[str, Any]) -> list[str]:
    """Every section above that the summary has data for."""
    return [*general_mix_section(summary.get("general_mix")),
            *dialogues_section(summary.get("dialogues")),
            *preferences_section(summary.get("preferences"),
                                 summary.get("stages", {}).get("pairs"))]
