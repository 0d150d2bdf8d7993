"""The judge's self-check: planted-error pairs judged beside the real samples.

``planted_pairs.jsonl`` (package data) holds short source passages (with their heading path),
each with a question, an answer and its citations: a flawed pair (``expect`` = "drop"; gross
kinds ``wrong_fact``, ``unsupported_claim``, ``answers_other_question``, ``incomplete``; subtle
kinds ``no_subject``, ``vacuous_answer``, ``heading_citation``, ``leans_on_source``) or a faithful
control (``kind`` = ``faithful``, ``expect`` = "keep"), in English and Chinese. A checker that
keeps the flawed ones at the current thresholds is too lenient for its scores to mean anything,
whatever the card says about the real samples. The verifier's self-check
(``sftforge.verifier.selfcheck``) uses every pair; the 1-10 judge's uses the twelve gross-kind
pairs it was measured on (:data:`JUDGE_PAIR_IDS`). Planted pairs live under sample ids starting with ``planted:`` and never enter
``samples``/``clean_samples``, so no export can pick them up.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any, Callable


# The keep/drop rule applied to a judgement row: (True, "") or (False, reason).
Keep = Callable[[dict[str, Any]], tuple[bool, str]]
PLANTED_PREFIX = "planted:"
PLANTED_DOC_ID = "planted"
MIN_CATCH_RATE = 0.8  # below this share of planted errors caught, the judge is not trusted
MIN_JUDGED_SHARE = 0.8  # with fewer flawed pairs judged (failures), no verdict either way
GROSS_KINDS = ("wrong_fact", "unsupported_claim", "answers_other_question", "incomplete")
SUBTLE_KINDS = ("no_subject", "vacuous_answer", "heading_citation", "leans_on_source")
FAULT_KINDS = GROSS_KINDS + SUBTLE_KINDS
KINDS = frozenset(FAULT_KINDS + ("faithful",))
# The judge's self-check set: the first twelve pairs (gross kinds + two controls), unchanged
# since the judge was measured on them, so its counts stay comparable across releases.
JUDGE_PAIR_IDS = frozenset({
    "en-wrong-fact-1", "en-wrong-fact-2", "en-unsupported-1", "en-wrong-question-1",
    "en-incomplete-1", "en-control-1", "zh-wrong-fact-1", "zh-wrong-fact-2", "zh-unsupported-1",
    "zh-wrong-question-1", "zh-incomplete-1", "zh-control-1"})
_FIELDS = ("pair_id", "lang", "kind", "expect", "flaw", "source", "question", "answer",
           "citations", "heading_path")


def planted_pairs() -> list[dict[str, Any]]:
    """Rows of ``planted_pairs.jsonl``: {pair_id, lang, kind, expect, flaw, source, question,
    answer, citations, heading_path}; a malformed row raises ``ValueError`` naming its line."""
    text = resources.files("sftforge.grounding").joinpath("planted_pairs.jsonl").read_text("utf-8")
    rows = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        row = json.loads(line)
        missing = [f for f in _FIELDS if f not in row]
        expect = "keep" if row.get("kind") == "faithful" else "drop"
        if missing or row["kind"] not in KINDS or row["expect"] != expect:
            raise ValueError(f"planted_pairs.jsonl line {n}: missing {missing} or bad kind/expect "
                             f"({row.get('kind')!r}/{row.get('expect')!r}); fix the row")
        rows.append(row)
    return rows


def judge_pairs() -> list[dict[str, Any]]:
    """The planted pairs of the 1-10 judge's self-check (:data:`JUDGE_PAIR_IDS`)."""
    return [p for p in planted_pairs() if p["pair_id"] in JUDGE_PAIR_IDS]


def spread(pairs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``pairs`` reordered so any prefix mixes kinds and languages (controls last): the first
    N make a fair smaller self-check."""
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for p in pairs:
        by_kind.setdefault(p["kind"], []).append(p)
    kinds = sorted(by_kind, key=lambda k: (k == "faithful", k))
    # Within a kind the languages alternate, and kinds alternate which language comes first,
    # so a prefix holds both languages.
    queues = [_interleave(by_kind[k], "zh" if i % 2 else "en") for i, k in enumerate(kinds)]
    out = []
    for r in range(max(len(q) for q in queues)):
        out += [q[r] for q in queues if r < len(q)]
    return out


def _interleave(pairs: list[dict[str, Any]], first: str) -> list[dict[str, Any]]:
    """``pairs`` with languages alternating, ``first`` language first, file order kept."""
    langs = sorted({p["lang"] for p in pairs}, key=lambda lang: lang != first)
    queues = [[p for p in pairs if p["lang"] == lang] for lang in langs]
    return [q[r] for r in range(max(map(len, queues))) for q in queues if r < len(q)]


def planted_samples(n: int | None = None) -> list[dict[str, Any]]:
    """The first ``n`` judge pairs of :func:`spread` (all when None), shaped like
    ``tasks.judge.judge_inputs`` rows: {sample_id ("planted:<pair_id>"), doc_id ("planted"),
    text (the source), question, answer}."""
    pairs = spread(judge_pairs())[:n]
    return [{"sample_id": PLANTED_PREFIX + p["pair_id"], "doc_id": PLANTED_DOC_ID,
             "text": p["source"], "question": p["question"], "answer": p["answer"]}
            for p in pairs]


def is_planted(sample_id: str) -> bool:
    """True for the sample id of a planted pair (never to be exported)."""
    return sample_id.startswith(PLANTED_PREFIX)


def catch_rate(verdicts: dict[str, dict[str, Any] | None],
               keep: Keep, asked: list[str] | None = None) -> dict[str, Any]:
    """How many planted errors the judge caught under ``keep`` (the judge stage's
    ``apply_thresholds`` at the current thresholds:    same keep/drop rule as the real samples).

    ``verdicts`` maps pair_id (with or without the ``planted:`` prefix) to its ``judgements``
    row; a pair without one was not judged (a failed call) and is left out of the rate rather
    than counted as caught. Returns {caught, total, rate, trusted, missed: [{pair_id, kind,
    lang, flaw, faithfulness, overall}], unjudged: [pair_id], controls_kept, controls_total,
    controls_dropped: [{pair_id, reason}]}.
    """
    by_id = {k.removeprefix(PLANTED_PREFIX): v for k, v in verdicts.items()}
    pairs = judge_pairs()
    flawed = [p for p in pairs if p["expect"] == "drop"]
    caught, missed, unjudged = 0, [], []
    for p in flawed:
        row = by_id.get(p["pair_id"])
        if row is None:
            unjudged.append(p["pair_id"])
        elif keep(row)[0]:
            missed.append({k: p[k] for k in ("pair_id", "kind", "lang", "flaw")}
                          | {"faithfulness": row["faithfulness"], "overall": row["overall"]})
        else:
            caught += 1
    total = len(flawed) - len(unjudged)
    rate = round(caught / total, 3) if total else 0.0
    controls = _controls(pairs, by_id, keep)
    trusted = total >= MIN_JUDGED_SHARE * len(flawed) and rate >= MIN_CATCH_RATE
    return {"caught": caught, "total": total, "rate": rate, "trusted": trusted,
            "missed": missed, "unjudged": unjudged, **controls}


def _controls(pairs: list[dict], by_id: dict[str, dict | None],
              keep: Keep) -> dict[str, Any]:
    """Faithful controls the judge kept, and the ones it dropped with the reason."""
    kept, dropped, total = 0, [], 0
    for p in pairs:
        if p["expect"] != "keep" or by_id.get(p["pair_id"]) is None:
            continue
        total += 1
        ok, reason = keep(by_id[p["pair_id"]])
        kept += ok
        if not ok:
            dropped.append({"pair_id": p["pair_id"], "reason": reason})
    return {"controls_kept": kept, "controls_total": total, "controls_dropped": dropped}


def catch_rate_lines(result: dict[str, Any]) -> list[str]:
    """Card lines for a :func:`catch_rate` result: the count, then warnings if any."""
    lines = [f"Judge self-check: the judge caught {result['caught']}/{result['total']} planted "
             f"errors at the current thresholds; it kept {result['controls_kept']}/"
             f"{result['controls_total']} faithful controls."]
    if not result["trusted"]:
        lines.append(f"WARNING: the judge is too lenient to be trusted (needs "
                     f"{MIN_CATCH_RATE:.0%} of planted errors caught, with at least "
                     f"{MIN_JUDGED_SHARE:.0%} of them judged). Raise the thresholds or use a "
                     f"stronger judge model (SFTFORGE_JUDGE__MODEL).")
    for m in result["missed"]:
        lines.append(f"- missed {m['pair_id']} ({m['kind']}, {m['lang']}): {m['flaw']} "
                     f"(faithfulness {m['faithfulness']}, overall {m['overall']})")
    if result["controls_dropped"]:
        lines.append("WARNING: the judge dropped faithful controls ("
                     + ", ".join(f"{c['pair_id']}: {c['reason']}" for c in result["controls_dropped"])
                     + "): its thresholds may be too strict for this model.")
    if result["unjudged"]:
        lines.append(f"Not judged (failed calls): {', '.join(result['unjudged'])}.")
    return lines
