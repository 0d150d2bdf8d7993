"""Rules for the faults a small model's yes/no probabilities miss, English and Chinese.

Input: one pair (question, answer), its source passage (``chunks.text``), its citations (the
quotes of ``clean_samples.citations``) and the chunk's heading path (``chunks.heading_path``
split on " > "). Output: drop reasons, ``[]`` when the pair passes. Deterministic, no model.

Reasons (exact strings, in this order):
- ``question_without_subject``: the question does not name what it asks about ("What is the
  main defense?", "这种方法的主要风险是什么？"); ``sftforge.cleaning.subject``. The clean stage
  first tries :func:`make_self_contained` and drops only what it cannot fix.
- ``vacuous_answer``: the answer says nothing concrete beyond the question's own words ("The
  fix is also always the same in principle.", "这需要根据具体情况进行处理。");
  ``sftforge.cleaning.vacuous``.
- ``heading_citation``: the pair has citations and none is evidence: each is a heading or a
  title-like line, or shares no content word with the answer; ``sftforge.cleaning.evidence``.
  A pair without citations (``None`` or ``[]``) is not judged by this rule.

Used by the clean stage (``tasks/clean.py``: reasons land in ``clean_samples`` and
``selection``) and by ``sftforge verify`` on arbitrary rows.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel

from sftforge.cleaning.evidence import is_evidence
from sftforge.cleaning.subject import lacks_subject, make_self_contained
from sftforge.cleaning.vacuous import is_polar_pair, is_vacuous

__all__ = ["REASONS", "RuleOutcome", "SampleRuleSettings", "apply_sample_rules",
           "has_evidence_citation", "make_self_contained", "rule_reasons", "split_heading_path"]

REASONS = ("question_without_subject", "vacuous_answer", "heading_citation")


class SampleRuleSettings(BaseModel):
    """What the clean stage does with each rule's finding."""

    # drop: reason heading_citation in selection; flag: kept, listed in the sample's flags
    # (counted on the card); off: not checked.
    heading_citation: Literal["drop", "flag", "off"] = "drop"
    vacuous_answer: bool = True
    # fix: supply the subject from the heading path when certain, drop otherwise; drop: never
    # rewrite; off: not checked.
    question_without_subject: Literal["fix", "drop", "off"] = "fix"


def split_heading_path(heading_path: str | list[str] | None) -> list[str]:
    """``chunks.heading_path`` ("A > B") as a list of headings."""
    if isinstance(heading_path, list):
        return [h for h in heading_path if h and h.strip()]
    return [h.strip() for h in (heading_path or "").split(" > ") if h.strip()]


def _quote(citation: Any) -> str:
    return str(citation.get("quote") or "") if isinstance(citation, dict) else str(citation or "")


def has_evidence_citation(answer: str, source: str, citations: list[Any],
                          heading_path: list[str] | None = None, question: str = "") -> bool:
    """True when at least one citation (quote text, or {quote, ...}) is evidence for
    ``answer`` (a yes/no answer: for the question's claim)."""
    claim_in = question if question and is_polar_pair(question, answer) else ""
    return any(is_evidence(_quote(c), answer, source, heading_path, claim_in) for c in citations)


def rule_reasons(question: str, answer: str, *, source: str,
                 citations: list[str] | None = None,
                 heading_path: list[str] | None = None) -> list[str]:
    """Deterministic drop reasons of one pair (see the module), ``[]`` when it passes."""
    reasons = []
    if lacks_subject(question):
        reasons.append("question_without_subject")
    if is_vacuous(question, answer):
        reasons.append("vacuous_answer")
    path = split_heading_path(heading_path)
    if citations and not has_evidence_citation(answer, source, citations, path, question):
        reasons.append("heading_citation")
    return reasons


class RuleOutcome(BaseModel):
    """What the sample rules did to one cleaned pair in the clean stage."""

    question: str  # the question, with its subject supplied when it was rewritten
    reason: str = ""  # the first drop reason, "" when kept
    flags: list[str] = []  # findings kept as flags (heading_citation under "flag")
    rewritten_from: str = ""  # the original question when it was rewritten


def apply_sample_rules(question: str, answer: str, *, source: str, citations: list[Any],
                       heading_path: list[str], settings: SampleRuleSettings) -> RuleOutcome:
    """Run the rules on a cleaned pair as ``settings`` say: fix or drop a question without its
    subject, drop a vacuous answer, drop or flag a pair whose citations are not evidence."""
    out = RuleOutcome(question=question)
    if settings.question_without_subject != "off" and lacks_subject(question):
        fixed = (make_self_contained(question, heading_path)
                 if settings.question_without_subject == "fix" else None)
        if fixed is None:
            out.reason = "question_without_subject"
            return out
        out.question, out.rewritten_from = fixed, question
    if settings.vacuous_answer and is_vacuous(out.question, answer):
        out.reason = "vacuous_answer"
        return out
    if settings.heading_citation != "off" and citations \
            and not has_evidence_citation(answer, source, citations, heading_path, out.question):
        if settings.heading_citation == "drop":
            out.reason = "heading_citation"
        else:
            out.flags.append("heading_citation")
    return out
