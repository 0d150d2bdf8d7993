"""One pair's verdict from its check probabilities and its rule reasons.

Input: ``{check: P(yes)}`` as ``verify_rows`` returns it (``error`` when a check failed), the
rule reasons of ``sftforge.cleaning.sample_rules.rule_reasons`` and the thresholds
(``VerifySettings``). Output: ``("keep" | "drop", reasons)``. Unlike the build's ``select``
(which records the first reason only), every reason is listed: an audit shows all that is wrong.
"""

from __future__ import annotations

from typing import Any, Callable

from sftforge.cleaning.source_refs import refers_to_source
from sftforge.verifier.checks import pair_lang
from sftforge.verifier.settings import VerifySettings, check_reasons

LEANS_ON_SOURCE = "leans_on_source"

# rule_reasons(question, answer, *, source, citations, heading_path) -> [reason]
Rules = Callable[..., list[str]]


def verdict_of(probs: dict[str, Any] | None, rules: list[str], settings: VerifySettings,
               lang: str = "en") -> tuple[str, list[str]]:
    """``("keep", [])`` or ``("drop", reasons)``: rule reasons first, then the checks' (at the
    thresholds of the pair's ``lang``)."""
    reasons = [*rules, *check_reasons(probs, settings, lang)]
    return ("drop" if reasons else "keep"), reasons


def default_rules() -> Rules:
    """The deterministic sample rules (imported late: they live in the cleaning package)."""
    from sftforge.cleaning.sample_rules import rule_reasons

    return rule_reasons


def lang_of(row: dict[str, Any]) -> str:
    """The language a pair was checked in (``zh`` or ``en``), which picks its thresholds."""
    return pair_lang(row["question"], row["answer"])


def rules_of(row: dict[str, Any], rules: Rules) -> list[str]:
    """``rules`` applied to one row (``source``, ``question``, ``answer``, optional
    ``citations`` and ``heading_path``), then ``leans_on_source`` for an answer that points at
    "the passage" / "原文" (a trainee's user never sees it; the build's answer hygiene cuts
    such sentences, an audited dataset still has them)."""
    reasons = list(rules(row["question"], row["answer"], source=row["source"],
                         citations=row.get("citations"), heading_path=row.get("heading_path")))
    if refers_to_source(row["answer"]):
        reasons.append(LEANS_ON_SOURCE)
    return reasons
