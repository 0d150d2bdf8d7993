"""The question plan: exact counts per chunk, the target mix within the stated tolerance."""

from __future__ import annotations

from collections import Counter

import pytest

from sftforge.question_plan import (CYCLE, DIFFICULTIES, QTYPES, WINDOW_TOLERANCE, PlanSettings,
                                    cycle, has_code, largest_remainder, plan_document)


def _worst_window_error(settings: PlanSettings) -> float:
    seq, shares = cycle(settings), settings.shares()
    q_share = {q: sum(v for (a, _), v in shares.items() if a == q) for q in QTYPES}
    d_share = {d: sum(v for (_, b), v in shares.items() if b == d) for d in DIFFICULTIES}
    worst = 0.0
    for start in range(CYCLE):
        qs, ds = Counter(), Counter()
        for m in range(1, CYCLE + 1):
            q, d = seq[(start + m - 1) % CYCLE]
            qs[q] += 1
            ds[d] += 1
            worst = max(worst, *(abs(qs[k] - m * v) for k, v in q_share.items()),
                        *(abs(ds[k] - m * v) for k, v in d_share.items()))
    return worst


def test_cycle_holds_the_exact_quotas_of_the_mix() -> None:
    settings = PlanSettings()
    counts = Counter(cycle(settings))
    assert sum(counts.values()) == CYCLE
    assert Counter(q for q, _ in cycle(settings)) == {
        "factual": 30, "conceptual": 24, "reasoning": 24, "how-to": 18, "code": 12, "scenario": 12}
    assert Counter(d for _, d in cycle(settings)) == {"easy": 36, "medium": 48, "hard": 36}
    # joint cells follow the product of the shares to within one slot per cycle
    shares = settings.shares()
    assert all(abs(counts[k] - v * CYCLE) <= 1 for k, v in shares.items())


@pytest.mark.parametrize("mix", [
    {},  # defaults
    {"qtype_mix": {"factual": 1, "reasoning": 1, "scenario": 2}, "difficulty_mix": {"hard": 1}},
    {"qtype_mix": {"code": 0.05, "factual": 0.5, "how-to": 0.45}},
])
def test_any_run_of_slots_is_within_the_stated_tolerance(mix: dict) -> None:
    # Every offset and every length: this is the per-document guarantee the module states.
    assert _worst_window_error(PlanSettings(**mix)) <= WINDOW_TOLERANCE


def test_plan_is_exact_per_chunk_deterministic_and_per_document() -> None:
    settings, counts = PlanSettings(), [3, 1, 5, 2, 4]
    plan = plan_document("doc-a", counts, settings)
    assert [len(slots) for slots in plan] == counts
    assert plan == plan_document("doc-a", counts, settings)
    # Another document (or a GA pair stream) starts elsewhere in the cycle.
    assert plan != plan_document("doc-a|pair-1", counts, settings)
    # A chunk added at the end leaves the earlier chunks' plan unchanged.
    assert plan_document("doc-a", [*counts, 2], settings)[:5] == plan


def test_largest_remainder_sums_exactly() -> None:
    quotas = largest_remainder({("a", "x"): 1 / 3, ("b", "x"): 1 / 3, ("c", "x"): 1 / 3}, 10)
    assert sorted(quotas.values()) == [3, 3, 4] and sum(quotas.values()) == 10


def test_unknown_type_in_the_mix_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="qtype_mix: keys must be among"):
        PlanSettings(qtype_mix={"trivia": 1.0})


def test_code_slots_only_on_chunks_with_code_and_counts_stay_exact() -> None:
    settings, counts = PlanSettings(), [4, 5, 3, 4, 2, 5]
    for doc in range(200):
        none = plan_document(f"doc{doc}", counts, settings, [False] * len(counts))
        assert [len(s) for s in none] == counts
        assert all(q != "code" for slots in none for q, _ in slots)
        some = plan_document(f"doc{doc}", counts, settings, [False, True, False, False, True, False])
        assert [len(s) for s in some] == counts
        for i, slots in enumerate(some):
            n_code = sum(q == "code" for q, _ in slots)
            assert n_code == 0 if i not in (1, 4) else n_code <= counts[i] // 2 + 1
        # the other types keep their mix among the non-code slots (tolerance 3 per document)
        shares = settings.shares()
        code_share = sum(v for (q, _), v in shares.items() if q == "code")
        got = Counter(q for slots in none for q, _ in slots)
        m = sum(counts)
        for q in QTYPES[:-2] + ("scenario",):
            share = sum(v for (a, _), v in shares.items() if a == q) / (1 - code_share)
            assert abs(got[q] - m * share) <= 3, (doc, q, got)


def test_code_detection_en_and_zh() -> None:
    assert has_code("Use `htmlspecialchars()` before echoing.")
    assert has_code("SELECT name FROM users WHERE id = ?")
    assert has_code("在表单中加入 csrf_token 隐藏字段。")
    assert has_code("session.cookie_secure = true")
    assert not has_code("# Web security\n\nThe attacker sends a crafted link to the victim.")
    assert not has_code("同源策略限制了脚本对其他站点的访问（浏览器默认行为）。")
