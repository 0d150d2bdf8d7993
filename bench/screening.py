"""Screening rates on the held-out sets of bench/heldout/ (written apart from the tests).

Two sets: the first (``pii_variants``, ``injections``, ``benign_imperatives``) was written
before the detectors were changed for issue 20; the second (``fresh_*``) after, and was not
tuned on: its misses are reported as they are. Prints, per PII kind, variants caught / tried (caught: the value is gone from the scrubbed
text, however it was spelled); injections caught / tried (per language and evasion kind); and
false positives / benign imperative IT sentences. Run from the repository root:

    python bench/screening.py          # both sets
    python bench/screening.py fresh_   # one set, by file prefix ("" for the first)

Runs on older commits too (no detection-view API needed): multi-block attacks fall back to
screening each block when ``injection.screen_blocks`` is missing.
"""

from __future__ import annotations

import json
import re
import sys
import unicodedata
from collections import Counter
from pathlib import Path

from sftforge.cleaning import injection, pii

HELDOUT = Path(__file__).parent / "heldout"


def _rows(name: str) -> list[dict]:
    lines = (HELDOUT / name).read_text("utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def _core(text: str) -> str:
    """Letters and digits only, NFKC-folded, format characters gone: how a value is compared."""
    text = "".join(c for c in text if unicodedata.category(c) != "Cf")
    return re.sub(r"[\W_]", "", unicodedata.normalize("NFKC", text)).lower()


def pii_rates(prefix: str = "") -> None:
    tried, caught, missed = Counter(), Counter(), []
    for row in _rows(f"{prefix}pii_variants.jsonl"):
        out, _ = pii.scrub(row["text"])
        tried[row["kind"]] += 1
        if _core(row["needle"]) not in _core(out):
            caught[row["kind"]] += 1
        else:
            missed.append(f"{row['kind']}: {row['text'][:70]!r}")
    print("PII variants caught / tried")
    for kind in sorted(tried):
        print(f"  {kind:<10} {caught[kind]:>3} / {tried[kind]}")
    print(f"  {'all':<10} {sum(caught.values()):>3} / {sum(tried.values())}")
    for line in missed:
        print("    missed", line)


def _flagged(blocks: list[str]) -> bool:
    screen = getattr(injection, "screen_blocks", None)
    if screen is not None:
        return bool(screen(blocks))
    return injection.suspected_injection(*blocks)


def injection_rates(prefix: str = "") -> None:
    tried, caught, missed = Counter(), Counter(), []
    for row in _rows(f"{prefix}injections.jsonl"):
        key = f"{row['lang']} {row['kind']}"
        tried[key] += 1
        if _flagged(row["blocks"]):
            caught[key] += 1
        else:
            missed.append(" | ".join(row["blocks"])[:80])
    print("Injections caught / tried")
    for key in sorted(tried):
        print(f"  {key:<10} {caught[key]:>3} / {tried[key]}")
    print(f"  {'all':<10} {sum(caught.values()):>3} / {sum(tried.values())}")
    for text in missed:
        print(f"    missed {text!r}")
    flagged, total, fps = Counter(), Counter(), []
    for row in _rows(f"{prefix}benign_imperatives.jsonl"):
        total[row["lang"]] += 1
        if _flagged([row["text"]]):
            flagged[row["lang"]] += 1
            fps.append(row["text"])
    print("False positives / benign imperative sentences")
    for lang in sorted(total):
        print(f"  {lang:<10} {flagged[lang]:>3} / {total[lang]}")
    print(f"  {'all':<10} {sum(flagged.values()):>3} / {sum(total.values())}")
    for text in fps:
        print(f"    flagged {text!r}")


if __name__ == "__main__":
    for prefix in sys.argv[1:] or ["", "fresh_"]:
        print(f"== set {prefix or 'first'} ==")
        pii_rates(prefix)
        injection_rates(prefix)
