"""Calibrate the verifier's thresholds: P(yes) per check on labeled pairs, on one model.

    .venv/bin/python bench/verify_calibration.py                     # embedded model
    .venv/bin/python bench/verify_calibration.py --base-url http://127.0.0.1:8000/v1

Pairs: the judge's planted self-check set (``sftforge/grounding/planted_pairs.jsonl``) and a
set written apart from it and from the tests (``bench/data/verify_pairs.jsonl``: other topics,
English and Chinese, faithful pairs and wrong facts, unsupported claims, answers to another
question, incomplete answers, questions without a subject). Each pair's checks are asked with
``verify_rows`` (the build's code path). Printed per set and check: P(yes) of every pair with
its label, the range of faithful and of flawed pairs, the AUC, and the threshold that keeps
every faithful pair; then, at the current ``VerifySettings`` defaults, what is caught per kind
and which faithful pairs are dropped. No assertions.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sftforge.llm.local import LocalLLM  # noqa: E402
from sftforge.settings import ResolvedEndpoint  # noqa: E402
from sftforge.verifier.settings import VerifySettings, apply_checks  # noqa: E402
from sftforge.verifier.run import DEFAULT_CHECKS, verify_rows  # noqa: E402

SETS = {"planted": ROOT / "sftforge" / "grounding" / "planted_pairs.jsonl",
        "held-out": ROOT / "bench" / "data" / "verify_pairs.jsonl"}


def read(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]


def auc(good: list[float], bad: list[float]) -> float:
    """P(a faithful pair scores above a flawed one), ties half."""
    pairs = [(g > b) + 0.5 * (g == b) for g in good for b in bad]
    return sum(pairs) / len(pairs) if pairs else float("nan")


def per_check(rows: list[dict], probs: list[dict], check: str) -> str:
    good = [p[check] for r, p in zip(rows, probs) if r["expect"] == "keep" and check in p]
    bad = [p[check] for r, p in zip(rows, probs) if r["expect"] != "keep" and check in p]
    if not good or not bad:
        return f"  {check}: no data"
    return (f"  {check}: faithful {min(good):.3f}-{max(good):.3f}, flawed {min(bad):.3f}-"
            f"{max(bad):.3f}, AUC {auc(good, bad):.2f}; keeps every faithful pair at "
            f"<= {min(good):.3f}, then catches {sum(b < min(good) for b in bad)}/{len(bad)}")


def at_defaults(rows: list[dict], probs: list[dict], settings: VerifySettings) -> str:
    kinds: dict[str, list[int]] = {}
    wrong = []
    for r, p in zip(rows, probs):
        keep, reason = apply_checks(p if "error" not in p else None, settings)
        if r["expect"] == "keep":
            wrong += [] if keep else [f"{r['pair_id']} ({reason})"]
        else:
            kinds.setdefault(r["kind"], [0, 0])
            kinds[r["kind"]][0] += not keep
            kinds[r["kind"]][1] += 1
    caught = ", ".join(f"{k} {c}/{n}" for k, (c, n) in sorted(kinds.items()))
    return f"  at the defaults: caught {caught}; faithful dropped: {wrong or 'none'}"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base-url", default=None)
    parser.add_argument("--model", default="bench-model")
    parser.add_argument("--models-dir", type=Path, default=Path.home() / ".cache" / "sftforge"
                        / "models", help="where the embedded model is joined once")
    parser.add_argument("--sets", nargs="+", choices=list(SETS), default=list(SETS))
    parser.add_argument("--work", type=Path, default=None,
                        help="work folder (its request cache makes a second run free)")
    args = parser.parse_args(argv)
    work = args.work or Path(tempfile.mkdtemp(prefix="sftforge-calib-"))
    llm = None
    if args.base_url:
        endpoint = ResolvedEndpoint(base_url=args.base_url, model=args.model)
    else:
        llm = LocalLLM(work, models_dir=args.models_dir)
        llm.start()
        endpoint = ResolvedEndpoint(base_url=llm.base_url, model=llm.model, embedded=True,
                                    timeout_s=600)
    try:
        for name in args.sets:
            rows = read(SETS[name])
            start = time.perf_counter()
            probs = verify_rows(rows, endpoint, DEFAULT_CHECKS, cache_dir=work / "cache")
            took = time.perf_counter() - start
            print(f"{name}: {len(rows)} pairs, {took:.0f} s ({took / len(rows):.1f} s per pair)")
            for r, p in zip(rows, probs):
                shown = " ".join(f"{c}={p[c]:.3f}" for c in DEFAULT_CHECKS if c in p)
                print(f"    {r['pair_id']:28} {r['expect']:5} {shown} {p.get('method', '')}"
                      f"{p.get('error', '')}")
            for check in DEFAULT_CHECKS:
                print(per_check(rows, probs, check))
            print(at_defaults(rows, probs, VerifySettings()), flush=True)
    finally:
        if llm is not None:
            llm.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
