"""The verifier's self-check: planted pairs through the checks and the rules, caught per kind.

Input: the planted pairs (``sftforge.grounding.planted``: source, question, answer, citations,
heading path, ``kind``), the verifier's probabilities for them (``verify_rows``, through the
request cache, so a rebuild pays nothing) and the rule reasons. Output (``summary.json`` key
``verify_self_check``): caught / total per fault kind, the gross and subtle catch rates, the
share of faithful controls dropped, the targets and which are missed, and the misses by pair.
"""

from __future__ import annotations

from typing import Any, Callable

from sftforge.grounding.planted import GROSS_KINDS, SUBTLE_KINDS, planted_pairs, spread
from sftforge.verifier.settings import VerifySettings
from sftforge.verifier.verdict import Rules, default_rules, lang_of, rules_of, verdict_of

# Issue 19's targets: share of planted errors caught (gross, subtle) and of controls dropped.
TARGETS = {"gross": 0.9, "subtle": 0.8, "faithful_dropped": 0.1}
# On the embedded CPU model: 24 pairs = every fault kind in both languages (16) + 8 controls,
# ~72 one-token requests, about 2 minutes once on 2 cores (then cached); all 46 elsewhere.
EMBEDDED_PAIRS = 24

Verify = Callable[[list[dict[str, Any]]], list[dict[str, Any]]]


def choose_pairs(n: int | None) -> list[dict[str, Any]]:
    """``n`` planted pairs (all when None): a third faithful controls, the rest faults spread
    over kinds and languages, so a small self-check still covers every kind in both."""
    pairs = planted_pairs()
    if n is None or n >= len(pairs):
        return pairs
    faults = spread([p for p in pairs if p["kind"] != "faithful"])
    controls = spread([p for p in pairs if p["kind"] == "faithful"])
    n_controls = min(len(controls), n // 3)
    return faults[:n - n_controls] + controls[:n_controls]


def outcomes(pairs: list[dict[str, Any]], verify: Verify, settings: VerifySettings,
             rules: Rules | None = None) -> dict[str, dict[str, Any]]:
    """pair_id -> {verdict, reasons, checks}: the pairs through ``verify`` and the rules."""
    rules = rules or default_rules()
    probs = verify(pairs)
    out = {}
    for pair, p in zip(pairs, probs):
        verdict, reasons = verdict_of(p, rules_of(pair, rules), settings, lang_of(pair))
        out[pair["pair_id"]] = {"verdict": verdict, "reasons": reasons,
                                "checks": {k: v for k, v in p.items() if k != "method"}}
    return out


def tally(pairs: list[dict[str, Any]], results: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Caught / total per kind (a fault is caught when dropped, a control counts when dropped)
    and the rates against :data:`TARGETS`. Pairs without a result are left out."""
    kinds: dict[str, dict[str, int]] = {}
    missed = []
    for p in pairs:
        r = results.get(p["pair_id"])
        if r is None:
            continue
        k = kinds.setdefault(p["kind"], {"caught": 0, "total": 0})
        k["total"] += 1
        k["caught"] += r["verdict"] == "drop"
        if (r["verdict"] == "drop") == (p["kind"] == "faithful"):
            missed.append({"pair_id": p["pair_id"], "kind": p["kind"], "lang": p["lang"],
                           "reasons": r["reasons"]})
    rates = {"gross": _rate(kinds, GROSS_KINDS), "subtle": _rate(kinds, SUBTLE_KINDS),
             "faithful_dropped": _rate(kinds, ("faithful",))}
    failing = [name for name, rate in rates.items() if rate is not None and (
        rate > TARGETS[name] if name == "faithful_dropped" else rate < TARGETS[name])]
    return {"kinds": kinds, "rates": rates, "targets": TARGETS, "missed_targets": failing,
            "misjudged": missed, "pairs": sum(k["total"] for k in kinds.values())}


def _rate(kinds: dict[str, dict[str, int]], names: tuple[str, ...]) -> float | None:
    caught = sum(kinds.get(k, {}).get("caught", 0) for k in names)
    total = sum(kinds.get(k, {}).get("total", 0) for k in names)
    return round(caught / total, 3) if total else None


def self_check_lines(result: dict[str, Any]) -> list[str]:
    """Markdown for the card: a table of caught / total per kind, then warnings per target."""
    lines = ["| kind | group | caught / planted |", "|---|---|---|"]
    for kind in (*GROSS_KINDS, *SUBTLE_KINDS):
        if kind in result["kinds"]:
            k = result["kinds"][kind]
            group = "gross" if kind in GROSS_KINDS else "subtle"
            lines.append(f"| {kind} | {group} | {k['caught']}/{k['total']} |")
    if "faithful" in result["kinds"]:
        f = result["kinds"]["faithful"]
        lines.append(f"| faithful (controls) | dropped | {f['caught']}/{f['total']} |")
    rates, targets = result["rates"], result["targets"]
    lines.append("")
    lines.append("; ".join(f"{name.replace('_', ' ')} {_pct(rates[name])} (target "
                           f"{'<=' if name == 'faithful_dropped' else '>='} {targets[name]:.0%})"
                           for name in ("gross", "subtle", "faithful_dropped")) + ".")
    for name in result["missed_targets"]:
        lines.append(f"\nWARNING: the verifier misses its {name.replace('_', ' ')} target "
                     f"({_pct(rates[name])}): its probabilities and rules cannot be trusted to "
                     "sort this build's samples that far; tune the thresholds (verify.min_*) or "
                     "use a stronger verifier endpoint (SFTFORGE_JUDGE__MODEL).")
    return lines


def _pct(rate: float | None) -> str:
    return "n/a" if rate is None else f"{rate:.0%}"



def pairs_for(settings: VerifySettings, embedded: bool) -> int | None:
    """How many planted pairs a build asks: ``settings.self_check_pairs``, or when unset
    :data:`EMBEDDED_PAIRS` on the embedded model and all (None) elsewhere."""
    if settings.self_check_pairs is None and embedded:
        return EMBEDDED_PAIRS
    return settings.self_check_pairs
