"""The verifier + rules on a labeled held-out set, thresholds tuned on the planted set only.

    PYTHONPATH=. .venv/bin/python bench/verify_heldout.py [--heldout bench/verify_heldout.jsonl]

Runs on the embedded model unless SFTFORGE_LLM_BASE_URL (or the judge role's endpoint) is set.
Asks the three checks of every planted pair (sftforge/grounding/planted_pairs.jsonl) and every
held-out row once (the request cache keeps them: a second run costs no request), then prints:
1. the planted set at the default thresholds (caught per kind, the issue's targets);
2. the thresholds that maximise balanced accuracy on the planted set (grid, rules included);
3. the held-out set at the default and at the tuned thresholds: agreement, balanced accuracy,
   caught per kind; and each check's AUC on the held-out set (how well it ranks alone).
The held-out file is never used to choose a threshold.
"""

from __future__ import annotations

import argparse
import itertools
import time
from pathlib import Path
from typing import Any

from sftforge.cli_verify import verifier_endpoint
from sftforge.llm.gateway import LLMGateway
from sftforge.settings import Settings
from sftforge.verifier.checks import DEFAULT_CHECKS, pair_lang
from tasks.verify_self_check import all_cached
from sftforge.grounding.planted import planted_pairs
from sftforge.verifier.audit import agreement, read_jsonl_rows
from sftforge.verifier.run import verify_rows
from sftforge.verifier.selfcheck import tally
from sftforge.verifier.settings import THRESHOLD_FIELDS, VerifySettings
from sftforge.verifier.verdict import default_rules, lang_of, rules_of, verdict_of

GRID = [round(0.05 * i, 2) for i in range(1, 20)]


def judged(rows: list[dict], probs: list[dict], rules: list[list[str]],
           settings: VerifySettings) -> list[dict[str, Any]]:
    """Audit-shaped results for ``rows`` at ``settings`` (no request: probabilities given)."""
    out = []
    for row, p, r in zip(rows, probs, rules):
        verdict, reasons = verdict_of(p, r, settings, lang_of(row))
        out.append({"id": row["id"], "verdict": verdict, "reasons": reasons,
                    "label": row["label"], "kind": row["kind"]})
    return out


def tune_lang(rows: list[dict], probs: list[dict], rules: list[list[str]],
              lang: str) -> tuple[float, float, float]:
    """(min_supported, min_answers, min_self_contained) with the best balanced accuracy on the
    ``lang`` pairs of ``rows`` (ties: lower thresholds)."""
    mine = [i for i, r in enumerate(rows) if lang_of(r) == lang]
    sub = ([rows[i] for i in mine], [probs[i] for i in mine], [rules[i] for i in mine])
    best, best_ba = (0.0, 0.0, 0.0), -1.0
    for s, a, c in itertools.product(GRID, GRID, [0.0, *GRID[:10]]):
        # the grid point for both languages (no Chinese thresholds of their own)
        settings = VerifySettings(min_supported=s, min_answers=a, min_self_contained=c,
                                  min_supported_zh=None, min_answers_zh=None,
                                  min_self_contained_zh=None)
        ba = agreement(judged(*sub, settings))["balanced_accuracy"]
        if ba > best_ba:
            best, best_ba = (s, a, c), ba
    return best


def tune(rows: list[dict], probs: list[dict], rules: list[list[str]]) -> VerifySettings:
    """Thresholds per language, each the grid point with the best balanced accuracy on that
    language's pairs of ``rows``: a small model's P(yes) sits higher on Chinese pairs."""
    (s, a, c), (sz, az, cz) = (tune_lang(rows, probs, rules, lang) for lang in ("en", "zh"))
    return VerifySettings(min_supported=s, min_answers=a, min_self_contained=c,
                          min_supported_zh=sz, min_answers_zh=az, min_self_contained_zh=cz)


def auc(scores: list[float], positive: list[bool]) -> float:
    """P(a random keep row scores above a random drop row) (ties count half)."""
    pos = [s for s, p in zip(scores, positive) if p]
    neg = [s for s, p in zip(scores, positive) if not p]
    wins = sum((x > y) + 0.5 * (x == y) for x in pos for y in neg)
    return wins / (len(pos) * len(neg)) if pos and neg else float("nan")


def report(title: str, results: list[dict]) -> None:
    got = agreement(results)
    if got is None:
        print(f"\n## {title}\nno rows")
        return
    print(f"\n## {title}\nagreement {got['agreement']:.3f}, balanced accuracy "
          f"{got['balanced_accuracy']:.3f} (drop recall {got['drop_recall']}, keep recall "
          f"{got['keep_recall']})")
    for kind, k in sorted(got["kinds"].items()):
        print(f"  {kind:24} {k['caught']}/{k['total']}")


def planted_rows() -> list[dict[str, Any]]:
    return [{**p, "id": p["pair_id"], "label": p["expect"]} for p in planted_pairs()]


def round_robin(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``rows`` reordered so any prefix mixes kinds and both languages: a run stopped early
    (``--cached-only`` afterwards) still measures every kind."""
    def lang(r: dict[str, Any]) -> str:
        return pair_lang(r["question"], r["answer"])

    rank: dict[tuple[str, str], int] = {}
    keyed = []
    for r in rows:
        k = (r["kind"], lang(r))
        rank[k] = rank.get(k, 0) + 1
        keyed.append(((rank[k], lang(r) == "zh", r["kind"]), r))
    return [r for _, r in sorted(keyed, key=lambda t: t[0])]


def cached(rows: list[dict[str, Any]], endpoint: Any) -> list[dict[str, Any]]:
    """The rows whose every check is already in the request cache."""
    gateway = LLMGateway(endpoint, Settings().home / "llm_cache")
    return [r for r in rows if all_cached(gateway, [{**r, "pair_id": r["id"]}], DEFAULT_CHECKS)]


def ask(rows: list[dict], endpoint: Any, cached_only: bool) -> tuple[list[dict], list[dict]]:
    rows = cached(rows, endpoint) if cached_only else rows
    return rows, verify_rows(rows, endpoint)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--heldout", type=Path, default=Path(__file__).with_name("verify_heldout.jsonl"))
    ap.add_argument("--cached-only", action="store_true", help="measure only the rows whose "
                    "checks are all in the request cache (no request; after a stopped run)")
    args = ap.parse_args()
    planted, heldout = round_robin(planted_rows()), round_robin(read_jsonl_rows(args.heldout))
    rules = default_rules()
    with verifier_endpoint(start=not args.cached_only) as endpoint:
        start = time.perf_counter()
        heldout, h_probs = ask(heldout, endpoint, args.cached_only)  # the held-out set first
        planted, p_probs = ask(planted, endpoint, args.cached_only)
        seconds = time.perf_counter() - start
    print(f"model {endpoint.model}: {len(planted)} planted + {len(heldout)} held-out pairs x 3 "
          f"checks in {seconds:.0f} s (cached requests cost nothing)")
    p_rules = [rules_of(r, rules) for r in planted]
    h_rules = [rules_of(r, rules) for r in heldout]
    default = VerifySettings()
    planted_results = {r["id"]: r for r in judged(planted, p_probs, p_rules, default)}
    t = tally(planted_pairs(), planted_results)  # pairs not asked are left out
    print(f"\n## planted set, default thresholds\nrates {t['rates']} (targets {t['targets']}),"
          f" missed targets: {t['missed_targets'] or 'none'}")
    for kind, k in t["kinds"].items():
        print(f"  {kind:24} {k['caught']}/{k['total']}")
    tuned = tune(planted, p_probs, p_rules)
    print(f"\ntuned on the planted set: {tuned.model_dump(include=set(THRESHOLD_FIELDS))}")
    report("planted set, tuned thresholds", judged(planted, p_probs, p_rules, tuned))
    report("held-out set, default thresholds", judged(heldout, h_probs, h_rules, default))
    report("held-out set, thresholds tuned on the planted set",
           judged(heldout, h_probs, h_rules, tuned))
    report("held-out set, rules only", judged(heldout, h_probs, h_rules, VerifySettings(
        min_supported=0, min_answers=0, min_self_contained=0, min_supported_zh=None,
        min_answers_zh=None, min_self_contained_zh=None)))
    keep = [r["label"] == "keep" for r in heldout]
    for check in default.checks:
        scores = [p.get(check, 0.0) for p in h_probs]
        print(f"held-out AUC of {check}: {auc(scores, keep):.3f}")


if __name__ == "__main__":
    main()
