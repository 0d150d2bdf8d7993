"""Verifier settings: which checks are asked, and the thresholds applied to stored P(yes).

Thresholds are not part of the verifier fingerprint: they are applied in the curation stage's
``select`` (``tasks/verify.py``), so changing one costs no request. Defaults are calibrated on
the embedded model (docs/verifier.md has the figures).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from sftforge.verifier.checks import DEFAULT_CHECKS

# check -> the selection reason of a sample below its threshold
REASONS = {"supported": "unsupported", "answers": "does_not_answer",
           "self_contained": "not_self_contained"}
FAILED = "verify_failed"


class VerifySettings(BaseModel):
    """Checks the verifier asks and the minimum P(yes) a kept sample has on each."""

    checks: tuple[str, ...] = DEFAULT_CHECKS
    # Defaults: per language, the thresholds with the best balanced accuracy on the 46 planted
    # pairs on the embedded model (bench/verify_heldout.py; docs/verifier.md has the figures).
    # self_contained separates nothing there (every pair 0.56-0.83): it is stored and shown,
    # and questions without a subject are the rules' (question_without_subject).
    min_supported: float = Field(0.55, ge=0, le=1)
    min_answers: float = Field(0.5, ge=0, le=1)
    min_self_contained: float = Field(0.0, ge=0, le=1)
    # A small model says "yes" more readily to Chinese pairs, faithful and flawed alike (on the
    # planted set the flawed Chinese pairs score above the faithful English ones), so Chinese
    # pairs have thresholds of their own; None: the English one.
    min_supported_zh: float | None = Field(0.05, ge=0, le=1)
    min_answers_zh: float | None = Field(0.9, ge=0, le=1)
    min_self_contained_zh: float | None = Field(0.0, ge=0, le=1)
    # Planted pairs asked each build to measure the verifier (card: caught per kind). None:
    # 24 on the embedded CPU model (every fault kind in both languages + 8 controls, ~72
    # one-token requests once, then cached), all 46 on an endpoint; 0: no self-check.
    self_check_pairs: int | None = Field(None, ge=0)

    def threshold(self, check: str, lang: str = "en") -> float:
        """The minimum P(yes) of ``check`` for a pair in ``lang`` (0 for a check without a
        setting)."""
        own = getattr(self, f"min_{check}_zh", None) if lang == "zh" else None
        return float(own if own is not None else getattr(self, f"min_{check}", 0.0))


THRESHOLD_FIELDS = frozenset({*(f"min_{c}" for c in REASONS), *(f"min_{c}_zh" for c in REASONS)})


def check_reasons(probs: dict[str, Any] | None, settings: VerifySettings,
                  lang: str = "en") -> list[str]:
    """Reasons of the checks under their threshold for a pair in ``lang`` (in
    ``settings.checks`` order); ``verify_failed`` when a check is missing or failed."""
    if not probs or probs.get("error") or any(c not in probs for c in settings.checks):
        return [FAILED]
    return [REASONS.get(c, f"low_{c}") for c in settings.checks
            if probs[c] < settings.threshold(c, lang)]


def apply_checks(checks: dict[str, float] | None, settings: VerifySettings,
                 lang: str = "en") -> tuple[bool, str]:
    """Keep or drop one sample by its stored probabilities: ``(True, "")`` or
    ``(False, reason)``, the first of :func:`check_reasons` (a build records one reason)."""
    reasons = check_reasons(checks, settings, lang)
    return (False, reasons[0]) if reasons else (True, "")


def verdicts(probs: dict[str, dict[str, float]], sample_ids: list[str],
             settings: VerifySettings, langs: dict[str, str] | None = None) -> dict[str, str]:
    """sample_id -> drop reason, for the samples ``apply_checks`` drops (``langs``: each
    sample's pair language, English when absent)."""
    out: dict[str, str] = {}
    for sid in sample_ids:
        ok, reason = apply_checks(probs.get(sid), settings, (langs or {}).get(sid, "en"))
        if not ok:
            out[sid] = reason
    return out


def settings_dump(settings: VerifySettings) -> dict[str, Any]:
    """What shapes the verifier's output (the fingerprint): the checks, not the thresholds."""
    return settings.model_dump(mode="json",
                               exclude=set(THRESHOLD_FIELDS) | {"self_check_pairs"})
