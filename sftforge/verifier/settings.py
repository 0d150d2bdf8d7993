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
    min_supported: float = Field(0.55, ge=0, le=1)
    min_answers: float = Field(0.6, ge=0, le=1)
    min_self_contained: float = Field(0.3, ge=0, le=1)
    # Planted pairs asked each build to measure the verifier (card: caught per kind). None:
    # 24 on the embedded CPU model (every fault kind in both languages + 8 controls, ~72
    # one-token requests once, then cached), all 46 on an endpoint; 0: no self-check.
    self_check_pairs: int | None = Field(None, ge=0)

    def threshold(self, check: str) -> float:
        """The minimum P(yes) of ``check`` (0 for a check without a setting)."""
        return float(getattr(self, f"min_{check}", 0.0))


THRESHOLD_FIELDS = frozenset(f"min_{c}" for c in REASONS)


def apply_checks(checks: dict[str, float] | None, settings: VerifySettings) -> tuple[bool, str]:
    """Keep or drop one sample by its stored probabilities: ``(True, "")`` or
    ``(False, reason)``; the first check under its threshold (in ``settings.checks`` order)
    names the reason, a sample never verified is ``verify_failed``."""
    if checks is None or any(c not in checks for c in settings.checks):
        return False, FAILED
    for check in settings.checks:
        if checks[check] < settings.threshold(check):
            return False, REASONS.get(check, f"low_{check}")
    return True, ""


def verdicts(probs: dict[str, dict[str, float]], sample_ids: list[str],
             settings: VerifySettings) -> dict[str, str]:
    """sample_id -> drop reason, for the samples ``apply_checks`` drops."""
    out: dict[str, str] = {}
    for sid in sample_ids:
        ok, reason = apply_checks(probs.get(sid), settings)
        if not ok:
            out[sid] = reason
    return out


def settings_dump(settings: VerifySettings) -> dict[str, Any]:
    """What shapes the verifier's output (the fingerprint): the checks, not the thresholds."""
    return settings.model_dump(mode="json",
                               exclude=set(THRESHOLD_FIELDS) | {"self_check_pairs"})
