"""Balance quotas: within the stated ratio when the material allows; never inventing samples."""

from __future__ import annotations

from tasks.balance import quotas, targets

A, B, C, D = ("n1", "factual", "easy"), ("n1", "code", "hard"), ("n2", "factual", "easy"), \
    ("n2", "reasoning", "medium")


def _shares(q: dict) -> dict:
    total = sum(q.values())
    return {c: n / total for c, n in q.items()}


def test_surplus_cell_is_cut_to_the_ratio_and_thin_cells_keep_everything() -> None:
    q = quotas({A: 40, B: 10, C: 10, D: 10}, {}, ratio=1.5, min_keep_fraction=0.3)
    # target 1/4 each; A may hold at most 1.5/4 of what is kept, the others keep all 10
    assert q == {A: 18, B: 10, C: 10, D: 10}
    assert _shares(q)[A] <= 1.5 * 0.25 + 1 / sum(q.values())


def test_even_material_loses_nothing_and_empty_cells_take_no_share() -> None:
    assert quotas({A: 10, B: 11, C: 9, D: 0}, {}, 1.5, 0.5) == {A: 10, B: 11, C: 9}


def test_weights_shape_the_target() -> None:
    t = targets([A, B, C, D], {"qtype:factual": 2.0, "node:n2": 0.5})
    assert round(t[A] / t[B], 6) == 2.0 and round(t[C] / t[A], 6) == 0.5
    q = quotas({A: 30, B: 30, C: 30, D: 30}, {"qtype:factual": 2.0}, 1.0, 0.0)
    assert q[A] == q[C] == 30 and q[B] == q[D] == 15


def test_min_keep_fraction_water_fills_instead_of_collapsing() -> None:
    counts = {A: 100, B: 1, C: 1, D: 1}
    q = quotas(counts, {}, ratio=1.5, min_keep_fraction=0.5)
    assert sum(q.values()) >= 52 and (q[B], q[C], q[D]) == (1, 1, 1)
    # without the floor the ratio alone would leave almost nothing of the big cell
    assert quotas(counts, {}, ratio=1.5, min_keep_fraction=0.0)[A] == 1
