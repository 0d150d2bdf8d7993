"""The question plan: which type and difficulty each question slot of a chunk gets.

The model does not choose: a plan per document follows the target mix from settings. The mix of
(type, difficulty) cells is laid out once as a cyclic sequence of ``CYCLE`` slots whose cell
counts are the largest-remainder quotas of the mix, interleaved by largest deficit so that any
run of consecutive slots holds each cell close to its share. A document walks the cycle from an
offset hashed from its id (and the GA pair, for pair variants), chunk after chunk in document
order; so the plan is deterministic, the count per chunk stays exact, and adding or removing a
document never changes another document's plan (stable under incremental rebuilds).

Code questions go only to chunks that show code, a command or configuration (:func:`has_code`);
code cells a chunk cannot take are owed to the next chunk with code, else left unused.

Tolerance: in a document with ``m`` slots whose chunks all show code, each type and each
difficulty count is within ``WINDOW_TOLERANCE`` (2) of ``m * share`` (checked for every offset
and length of the cycle in tests/unit/test_question_plan.py); in any document, each other type
is within 3 of its share of the non-code slots. Over a corpus the per-document errors have
random signs (worst case: the per-document bound times the number of documents).
"""

from __future__ import annotations

import re
from functools import lru_cache

from pydantic import BaseModel, Field, field_validator

from sftforge.ids import sha256_text

QTYPES = ("factual", "conceptual", "reasoning", "how-to", "code", "scenario")
DIFFICULTIES = ("easy", "medium", "hard")
CYCLE = 120  # slots per cycle: a multiple of the default shares' denominators
WINDOW_TOLERANCE = 2  # at most this |count - m * share| per type / difficulty in any run of m slots


class PlanSettings(BaseModel):
    """Target mix of question types and difficulties (shares; normalised, zero allowed)."""

    qtype_mix: dict[str, float] = Field(default_factory=lambda: {
        "factual": 0.25, "conceptual": 0.2, "reasoning": 0.2, "how-to": 0.15, "code": 0.1,
        "scenario": 0.1})
    difficulty_mix: dict[str, float] = Field(default_factory=lambda: {
        "easy": 0.3, "medium": 0.4, "hard": 0.3})

    @field_validator("qtype_mix", "difficulty_mix")
    @classmethod
    def _known(cls, mix: dict[str, float], info) -> dict[str, float]:  # noqa: ANN001
        allowed = QTYPES if info.field_name == "qtype_mix" else DIFFICULTIES
        unknown = sorted(set(mix) - set(allowed))
        if unknown or any(v < 0 for v in mix.values()) or sum(mix.values()) <= 0:
            raise ValueError(f"{info.field_name}: keys must be among {list(allowed)} with "
                             f"non-negative shares summing above 0 (got {mix})")
        return mix

    def shares(self) -> dict[tuple[str, str], float]:
        """(qtype, difficulty) -> target share of all questions."""
        tq, td = sum(self.qtype_mix.values()), sum(self.difficulty_mix.values())
        return {(q, d): self.qtype_mix.get(q, 0) / tq * self.difficulty_mix.get(d, 0) / td
                for q in QTYPES for d in DIFFICULTIES}


Cell = tuple[str, str]  # (qtype, difficulty)


def largest_remainder(shares: dict[Cell, float], total: int) -> dict[Cell, int]:
    """Integer quotas summing to ``total``, each the floor or ceiling of ``share * total``."""
    exact = {k: v * total for k, v in shares.items()}
    quotas = {k: int(v) for k, v in exact.items()}
    by_remainder = sorted(exact, key=lambda k: (-(exact[k] - quotas[k]), k))
    for k in by_remainder[:total - sum(quotas.values())]:
        quotas[k] += 1
    return quotas


def _marginal_quotas(shares: dict[tuple[str, str], float], axis: int,
                     names: tuple[str, ...]) -> dict[str, int]:
    marginal = {(n, ""): sum(v for k, v in shares.items() if k[axis] == n) for n in names}
    return {k[0]: q for k, q in largest_remainder(marginal, CYCLE).items()}


def _deficits(step: int, quotas: dict, counts: dict) -> dict:
    return {k: step * quotas[k] / CYCLE - counts[k] for k in quotas}


@lru_cache(maxsize=16)
def _cycle(settings_json: str) -> tuple[tuple[str, str], ...]:
    settings = PlanSettings.model_validate_json(settings_json)
    shares = settings.shares()
    cells = {k: v * CYCLE for k, v in shares.items()}  # soft targets of the joint cells
    q_quota = _marginal_quotas(shares, 0, QTYPES)
    d_quota = _marginal_quotas(shares, 1, DIFFICULTIES)
    q_count, d_count, c_count = dict.fromkeys(QTYPES, 0), dict.fromkeys(DIFFICULTIES, 0), \
        dict.fromkeys(cells, 0)
    out = []
    for step in range(1, CYCLE + 1):
        # The type furthest behind its quota, then the difficulty furthest behind both its own
        # quota and the (type, difficulty) cell's: both marginals stay close to the mix.
        qd = _deficits(step, q_quota, q_count)
        q = max((k for k in QTYPES if q_quota[k] > q_count[k]), key=lambda k: qd[k])
        dd, cd = _deficits(step, d_quota, d_count), _deficits(step, cells, c_count)
        d = max((k for k in DIFFICULTIES if d_quota[k] > d_count[k]),
                key=lambda k: dd[k] + cd[(q, k)])
        q_count[q], d_count[d], c_count[(q, d)] = q_count[q] + 1, d_count[d] + 1, \
            c_count[(q, d)] + 1
        out.append((q, d))
    return tuple(out)


def cycle(settings: PlanSettings) -> tuple[tuple[str, str], ...]:
    """The cyclic slot sequence of ``settings``' mix (``CYCLE`` (qtype, difficulty) cells)."""
    return _cycle(settings.model_dump_json())


def plan_document(stream: str, counts: list[int], settings: PlanSettings,
                  has_code: list[bool] | None = None) -> list[list[Cell]]:
    """(qtype, difficulty) of every slot of each chunk of one document.

    ``stream`` names the document (doc id, plus the GA pair id for a pair's questions);
    ``counts`` are the exact question counts of its chunks in document order. A chunk without
    code or configuration (``has_code`` False) never gets a ``code`` slot: the cell is owed to
    the next chunk with code (at most half of its slots), and goes unused if none follows, so a
    document without code gets no code questions and the other types share its slots.
    """
    seq = cycle(settings)
    pos = int(sha256_text(f"plan|{stream}")[:8], 16) % len(seq)
    owed: list[Cell] = []
    out = []
    for n, code_ok in zip(counts, has_code or [True] * len(counts)):
        slots: list[Cell] = []
        if code_ok:
            paid = min(len(owed), n // 2)
            slots, owed = owed[:paid], owed[paid:]
        while len(slots) < n:
            cell, pos = seq[pos % len(seq)], pos + 1
            if cell[0] == "code" and not code_ok:
                owed.append(cell)
            else:
                slots.append(cell)
        out.append(slots)
    return out


_CODE = re.compile(
    # fences, inline code, indented code, shell prompts, tags, calls, key=value lines,
    # snake_case identifiers, SQL statements
    r"```|`[^`\n]+`|^(?: {4}|\t)\S|^\s*\$ \w|</?[a-zA-Z][\w-]*[^>]*>|\w\([^()\n]*\)"
    r"|^\s*[\w.-]+\s*[:=]\s*\S+\s*$|\b[a-z]+(?:_[a-z0-9]+)+\b"
    r"|\b(?:SELECT|INSERT|UPDATE|DELETE)\b.+\b(?:FROM|INTO|SET|WHERE)\b",
    re.M)


def has_code(text: str) -> bool:
    """Whether a chunk shows code, a command or configuration (what a code question needs)."""
    return bool(_CODE.search(text))
