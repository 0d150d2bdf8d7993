"""The audit in the dataset card: this release's own audit and the review that fed it.

Reads two optional ``summary.json`` keys, both shaped like ``tasks.review.audit_summary``:
``audit`` (the audit of this release, written after it is reviewed) and ``review_feedback``
(the audit of the release whose verdicts this build applied, plus ``dropped`` / ``edited``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sftforge.jsonl import write_json


def _rate(audit: dict[str, Any]) -> str:
    rate = audit.get("acceptance_rate")
    return "n/a" if rate is None else f"{rate:.1%}"


def _audit_lines(audit: dict[str, Any]) -> list[str]:
    reasons = ", ".join(f"{k} {v}" for k, v in sorted(audit.get("reasons", {}).items())) or "none"
    return [
        f"- status: **{audit['status']}** (acceptance rate {_rate(audit)}, threshold "
        f"{audit['threshold']:.0%}, {'pass' if audit['passed'] else 'fail'})",
        f"- sample size {audit['sample_size']}, reviewed {audit['reviewed']}: accepted "
        f"{audit['accepted']}, rejected {audit['rejected']}, edited {audit['edited']}",
        f"- reject reasons: {reasons}",
    ]


def audit_parts(summary: dict[str, Any]) -> list[str]:
    """Markdown blocks for the card (none when the release has no audit data)."""
    parts = []
    if summary.get("audit"):
        parts += ["## Human audit of this release", "\n".join(_audit_lines(summary["audit"]))]
    feedback = summary.get("review_feedback")
    if feedback:
        head = (f"Verdicts from the audit of {feedback['release']} were applied: "
                f"{feedback.get('dropped', 0)} rejected samples dropped (review_rejected), "
                f"{feedback.get('edited', 0)} human-edited samples carried.")
        parts += ["## Human review feedback", head + "\n\n" + "\n".join(_audit_lines(feedback))]
    return parts


def update_release_card(release_dir: Path, audit: dict[str, Any]) -> None:
    """Store ``audit`` as ``summary.json["audit"]`` and re-render the release's card."""
    from sftforge.release.card_render import render_card  # matplotlib only when needed

    path = release_dir / "summary.json"
    if not path.exists():
        return  # a release folder without a card (hand-made); verdicts are stored anyway
    summary = json.loads(path.read_text("utf-8"))
    summary["audit"] = audit
    write_json(path, summary)
    render_card(release_dir, summary, redraw=False)  # the audit adds text, not plots
