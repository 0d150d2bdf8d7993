"""The verifier's self-check: which planted pairs it asks, the verdict of one pair, caught per
kind against the targets, and the card's table."""

from __future__ import annotations

from collections import Counter

import pytest

from sftforge.grounding.planted import FAULT_KINDS, GROSS_KINDS, SUBTLE_KINDS, planted_pairs
from sftforge.verifier.selfcheck import (
    EMBEDDED_PAIRS,
    choose_pairs,
    outcomes,
    self_check_lines,
    tally,
)
from sftforge.verifier.settings import VerifySettings
from sftforge.verifier.verdict import verdict_of

SETTINGS = VerifySettings(min_supported=0.5, min_answers=0.6, min_self_contained=0.3)
GOOD = {"supported": 0.9, "answers": 0.9, "self_contained": 0.9, "method": "logprobs"}


def test_the_embedded_self_check_covers_every_kind_in_both_languages() -> None:
    pairs = choose_pairs(EMBEDDED_PAIRS)
    seen = Counter((p["kind"], p["lang"]) for p in pairs)
    assert all(seen[(k, lang)] >= 1 for k in FAULT_KINDS for lang in ("en", "zh")), seen
    assert sum(p["kind"] == "faithful" for p in pairs) == EMBEDDED_PAIRS // 3
    assert len({p["pair_id"] for p in pairs}) == EMBEDDED_PAIRS
    assert choose_pairs(None) == planted_pairs()


def test_verdict_drops_on_any_rule_or_check_under_its_threshold() -> None:
    assert verdict_of(GOOD, [], SETTINGS) == ("keep", [])
    assert verdict_of({**GOOD, "supported": 0.49}, [], SETTINGS) == ("drop", ["unsupported"])
    assert verdict_of({**GOOD, "answers": 0.5, "self_contained": 0.1}, ["vacuous_answer"],
                      SETTINGS) == ("drop", ["vacuous_answer", "does_not_answer",
                                             "not_self_contained"])
    assert verdict_of({**GOOD, "supported": 0.5}, [], SETTINGS)[0] == "keep"  # at the threshold
    assert verdict_of({"error": "supported: timeout"}, [], SETTINGS) == ("drop", ["verify_failed"])
    assert verdict_of(None, [], SETTINGS) == ("drop", ["verify_failed"])


def _results(missed_kind: str | None, dropped_controls: int = 0) -> dict:
    """Every fault dropped and every control kept, except ``missed_kind`` (all kept) and the
    first ``dropped_controls`` controls."""
    out, controls = {}, 0
    for p in planted_pairs():
        drop = p["kind"] != "faithful" and p["kind"] != missed_kind
        if p["kind"] == "faithful" and controls < dropped_controls:
            drop, controls = True, controls + 1
        out[p["pair_id"]] = {"verdict": "drop" if drop else "keep", "reasons": []}
    return out


def test_a_perfect_checker_meets_every_target() -> None:
    result = tally(planted_pairs(), _results(None))
    assert result["rates"] == {"gross": 1.0, "subtle": 1.0, "faithful_dropped": 0.0}
    assert result["missed_targets"] == [] and result["misjudged"] == []
    assert result["pairs"] == len(planted_pairs())


@pytest.mark.parametrize("kind", FAULT_KINDS)
def test_every_kind_is_counted_in_its_group(kind: str) -> None:
    pairs = planted_pairs()
    n_kind = sum(p["kind"] == kind for p in pairs)
    group, kinds = ("gross", GROSS_KINDS) if kind in GROSS_KINDS else ("subtle", SUBTLE_KINDS)
    n_group = sum(p["kind"] in kinds for p in pairs)
    result = tally(pairs, _results(kind))
    assert result["kinds"][kind] == {"caught": 0, "total": n_kind}
    assert result["rates"][group] == round((n_group - n_kind) / n_group, 3)
    assert group in result["missed_targets"]  # one kind in four missed: under 90% / 80%
    assert {m["kind"] for m in result["misjudged"]} == {kind}


def test_dropped_controls_count_against_their_target() -> None:
    pairs = planted_pairs()
    controls = sum(p["kind"] == "faithful" for p in pairs)
    one = tally(pairs, _results(None, dropped_controls=1))
    assert one["rates"]["faithful_dropped"] == round(1 / controls, 3)
    assert one["missed_targets"] == []  # 1 of 14 is under 10%
    two = tally(pairs, _results(None, dropped_controls=2))
    assert two["missed_targets"] == ["faithful_dropped"]


def test_pairs_without_a_result_are_left_out() -> None:
    pairs = planted_pairs()
    results = _results(None)
    gone = [p["pair_id"] for p in pairs if p["kind"] == "incomplete"]
    for pid in gone:
        del results[pid]
    result = tally(pairs, results)
    assert "incomplete" not in result["kinds"]
    assert result["pairs"] == len(pairs) - len(gone) and result["rates"]["gross"] == 1.0


def test_the_card_table_names_every_kind_and_warns_on_a_missed_target() -> None:
    lines = self_check_lines(tally(planted_pairs(), _results("leans_on_source", 2)))
    text = "\n".join(lines)
    for kind in FAULT_KINDS:
        assert f"| {kind} |" in text
    assert "| leans_on_source | subtle | 0/4 |" in text and "| wrong_fact | gross | 4/4 |" in text
    assert "| faithful (controls) | dropped | 2/14 |" in text
    assert "subtle 75% (target >= 80%)" in text and "faithful dropped 14% (target <= 10%)" in text
    warnings = [x for x in lines if "WARNING" in x]
    assert len(warnings) == 2 and "subtle target" in warnings[0]
    assert not any("WARNING" in x for x in self_check_lines(tally(planted_pairs(), _results(None))))


def test_outcomes_combine_the_rules_and_the_checks() -> None:
    """The real rules catch what the probabilities let through (a heading as the only citation,
    an answer that points at the passage); a low check drops a pair the rules pass."""
    pairs = {p["pair_id"]: p for p in planted_pairs()}
    chosen = [pairs[i] for i in ("en-heading-1", "zh-leans-1", "en-faithful-2", "zh-faithful-2",
                                 "en-wrong-fact-1")]
    probs = {"en-wrong-fact-1": {**GOOD, "supported": 0.2}}
    got = outcomes(chosen, lambda rows: [probs.get(r["pair_id"], GOOD) for r in rows], SETTINGS)
    assert got["en-heading-1"]["reasons"] == ["heading_citation"]
    assert "leans_on_source" in got["zh-leans-1"]["reasons"]
    assert got["en-faithful-2"]["verdict"] == got["zh-faithful-2"]["verdict"] == "keep"
    assert got["en-wrong-fact-1"]["reasons"] == ["unsupported"]


def test_a_cached_self_check_needs_no_model(tmp_path) -> None:
    """The build starts the embedded model for the self-check only when some check of some
    chosen pair is not in the request cache yet."""
    from sftforge.llm.gateway import LLMGateway
    from sftforge.settings import ResolvedEndpoint
    from sftforge.verifier.run import run_checks
    from tasks.verify_self_check import all_cached
    from tests.fakellm import FakeLLM

    pairs = choose_pairs(4)
    with FakeLLM() as fake:
        endpoint = ResolvedEndpoint(base_url=fake.base_url, model="fake-model", max_retries=1)
        gateway = LLMGateway(endpoint, tmp_path / "cache")
        assert not all_cached(gateway, pairs, SETTINGS.checks)
        run_checks(gateway, pairs[:3], SETTINGS.checks, [p["pair_id"] for p in pairs[:3]])
        assert not all_cached(gateway, pairs, SETTINGS.checks)  # the fourth is missing
        run_checks(gateway, pairs[3:], SETTINGS.checks, [p["pair_id"] for p in pairs[3:]])
        assert all_cached(gateway, pairs, SETTINGS.checks) and len(fake.log) == 12
