"""Judge self-check: the planted pairs and the catch rate at the current thresholds."""

from __future__ import annotations

from collections import Counter

from sftforge.grounding.planted import (
    catch_rate,
    catch_rate_lines,
    GROSS_KINDS,
    is_planted,
    judge_pairs,
    planted_pairs,
    planted_samples,
    SUBTLE_KINDS,
)
from sftforge.grounding.score import MIN_GROUNDING, grounding_score
from tasks.judge import JudgeSettings, apply_thresholds

SETTINGS = JudgeSettings(min_overall=6.0, min_faithfulness=5)


def _keep(settings: JudgeSettings):
    return lambda row: apply_thresholds(row, settings)


def _row(faithfulness: int, overall: float) -> dict:
    return {"clarity": 8, "faithfulness": faithfulness, "relevance": 8, "completeness": 8,
            "overall": overall, "injection_suspected": False}


def _verdicts(flawed: dict, control: dict, skip: tuple[str, ...] = ()) -> dict:
    return {p["pair_id"]: (control if p["expect"] == "keep" else flawed)
            for p in planted_pairs() if p["pair_id"] not in skip}


def test_planted_set_covers_every_kind_in_both_languages() -> None:
    pairs = planted_pairs()
    kinds = Counter((p["lang"], p["kind"]) for p in pairs)
    for lang in ("en", "zh"):
        for kind in (*GROSS_KINDS, *SUBTLE_KINDS, "faithful"):
            assert kinds[(lang, kind)] >= 2, (lang, kind)
    assert len(pairs) >= 30 and len({p["pair_id"] for p in pairs}) == len(pairs)
    faithful = sum(p["kind"] == "faithful" for p in pairs)
    assert 0.25 <= faithful / len(pairs) <= 0.4  # about a third are controls
    for p in pairs:
        assert p["citations"] and all(c in p["source"] for c in p["citations"]), p["pair_id"]
        assert p["heading_path"] and (p["expect"] == "keep") == (p["kind"] == "faithful")
        if p["kind"] == "heading_citation":  # the one citation is a heading of the passage
            assert p["citations"] == [p["heading_path"][-1]], p["pair_id"]
    # The judge's self-check keeps its twelve pairs (ten planted errors), whatever is added.
    samples = planted_samples()
    assert len(samples) == 12 and sum(p["expect"] == "drop" for p in judge_pairs()) == 10
    assert all(is_planted(s["sample_id"]) and s["text"] and s["answer"] for s in samples)


def test_a_lenient_judge_catches_nothing_and_is_not_trusted() -> None:
    result = catch_rate(_verdicts(_row(8, 8.0), _row(9, 9.0)), _keep(SETTINGS))
    assert (result["caught"], result["total"], result["rate"], result["trusted"]) == (0, 10, 0.0, False)
    assert len(result["missed"]) == 10 and result["controls_kept"] == result["controls_total"] == 2
    lines = catch_rate_lines(result)
    assert lines[0].startswith("Judge self-check: the judge caught 0/10 planted errors")
    assert lines[1].startswith("WARNING: the judge is too lenient")


def test_a_judge_that_misses_one_error_is_trusted_and_names_it() -> None:
    verdicts = _verdicts(_row(2, 3.5), _row(9, 9.0))
    verdicts["planted:en-incomplete-1"] = _row(9, 6.5)  # prefixed ids are accepted too
    del verdicts["en-incomplete-1"]
    result = catch_rate(verdicts, _keep(SETTINGS))
    assert (result["caught"], result["total"], result["rate"], result["trusted"]) == (9, 10, 0.9, True)
    assert [m["pair_id"] for m in result["missed"]] == ["en-incomplete-1"]
    assert "judge caught 9/10 planted errors" in catch_rate_lines(result)[0]
    assert not any(line.startswith("WARNING") for line in catch_rate_lines(result))


def test_thresholds_decide_what_counts_as_caught() -> None:
    verdicts = _verdicts(_row(6, 6.5), _row(9, 9.0))
    assert catch_rate(verdicts, _keep(SETTINGS))["caught"] == 0
    assert catch_rate(verdicts, _keep(JudgeSettings(min_overall=7.0)))["caught"] == 10


def test_unjudged_pairs_are_left_out_and_dropped_controls_reported() -> None:
    skip = ("en-wrong-fact-1", "zh-wrong-fact-1", "zh-incomplete-1")
    result = catch_rate(_verdicts(_row(2, 3.0), _row(3, 4.0), skip), _keep(SETTINGS))
    assert (result["caught"], result["total"]) == (7, 7)
    assert result["trusted"] is False  # 7 of 10 judged: too few for a verdict
    assert sorted(result["unjudged"]) == sorted(skip)
    assert [c["reason"] for c in result["controls_dropped"]] == ["low_faithfulness"] * 2
    assert any("dropped faithful controls" in line for line in catch_rate_lines(result))


def test_grounding_score_flags_the_invented_planted_answers_without_a_judge() -> None:
    scores = {p["pair_id"]: grounding_score(p["answer"], p["source"], p["lang"])
              for p in planted_pairs()}
    for pid in ("en-wrong-question-1", "zh-wrong-question-1", "zh-unsupported-1"):  # judge set
        assert scores[pid] < MIN_GROUNDING, (pid, scores[pid])
    for pid in ("en-control-1", "zh-control-1"):
        assert scores[pid] >= MIN_GROUNDING, (pid, scores[pid])
