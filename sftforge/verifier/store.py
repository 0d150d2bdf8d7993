"""The stored verifier probabilities: ids and reads of the ``verifications`` table.

One row per (cleaned sample text, verifier fingerprint): a cleaning change that alters a text
verifies it again, and a probability given to an earlier text never applies to a new one.
"""

from __future__ import annotations

from typing import Any

from sftforge import store
from sftforge.ids import child_id, sha256_text
from sftforge.verifier.checks import CHECKS, pair_lang

CHECK_COLUMNS = tuple(CHECKS)  # one float column per check in ``verifications``


def verification_id(sample: dict[str, Any], fp: str) -> str:
    """Id of the verification of this exact sample text under verifier fingerprint ``fp``."""
    text_sha = sha256_text(f"{sample['question']}\n{sample['answer']}")[:12]
    return child_id(sample["sample_id"], fp, text_sha)


def verifications_for(db_uri: str, sample_ids: list[str], fp: str) -> dict[str, dict[str, Any]]:
    """sample_id -> the ``verifications`` row of its current cleaned text under ``fp``."""
    if not sample_ids:
        return {}
    clean = store.read(db_uri, "clean_samples", where=store.sql_in("sample_id", sample_ids),
                       columns=["sample_id", "question", "answer"])
    wanted = {verification_id(r, fp): r["sample_id"] for r in clean.to_dicts()}
    rows = store.read(db_uri, "verifications",
                      where=store.sql_in("verification_id", list(wanted)))
    return {wanted[r["verification_id"]]: r for r in rows.to_dicts()}


def checks_for(db_uri: str, sample_ids: list[str], fp: str) -> dict[str, dict[str, float]]:
    """sample_id -> {check: P(yes)} of its current text (checks that were not asked left out)."""
    return {sid: {c: row[c] for c in CHECK_COLUMNS if row.get(c) is not None}
            for sid, row in verifications_for(db_uri, sample_ids, fp).items()}


def pair_langs(db_uri: str, sample_ids: list[str]) -> dict[str, str]:
    """sample_id -> the language its current cleaned pair is checked in (picks thresholds)."""
    if not sample_ids:
        return {}
    clean = store.read(db_uri, "clean_samples", where=store.sql_in("sample_id", sample_ids),
                       columns=["sample_id", "question", "answer"])
    return {r["sample_id"]: pair_lang(r["question"], r["answer"]) for r in clean.to_dicts()}


def quality(checks: dict[str, float]) -> float:
    """One number to rank samples by (dedup's best item, balance): the weakest check."""
    return min(checks.values()) if checks else 0.0
