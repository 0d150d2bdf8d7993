"""gate stage: a written release folder -> published (``LATEST``), or refused with a list.

The last step before a release counts: every file of the folder is scanned for PII, secrets
(token shapes and the configured endpoint keys) and injection patterns
(``sftforge.release.gate``). A hit that is not explicitly allowed removes the staging folder
(``sftforge.release.staging``; the published releases and ``LATEST`` are never touched) and
fails the build with (file, row, field, kind) for each hit; the card reports the scan.
"""

from __future__ import annotations

from pathlib import Path

from prefect import task
from prefect.cache_policies import NO_CACHE
from pydantic import BaseModel, Field

from sftforge.release.gate import GateFailed, GateReport, scan_release
from sftforge.release.staging import discard
from sftforge.llm.endpoints import secret_block_value
from sftforge.settings import ROLES, Settings


class GateSettings(BaseModel):
    """Kinds a release may carry anyway (e.g. ``IP`` for a networking corpus)."""

    allow: list[str] = Field(default_factory=list, description=(
        "Finding kinds that do not fail a release: EMAIL, PHONE, CN_ID, BANK_CARD, IP, "
        "URL_CREDENTIALS, PASSPORT, SECRET, CONFIGURED_KEY, PROMPT_INJECTION"))


def configured_keys(settings: Settings) -> list[str]:
    """Every API key the build may use, read inside the task: the settings' (global and per
    role) and the Prefect Secret block's (``api_key_block``), where tasks read the key from
    when it exists (``sftforge.llm.endpoints.api_key``)."""
    keys = [settings.llm_api_key] + [getattr(settings, role).api_key for role in ROLES]
    if settings.api_key_block:
        keys.append(secret_block_value(settings.api_key_block))
    return [k.get_secret_value() for k in keys if k is not None]


def gate_release(release_dir: str, settings: GateSettings) -> GateReport:
    """Scan the staged ``release_dir``; on a finding that is not allowed, remove it and raise
    GateFailed."""
    report = scan_release(Path(release_dir), configured_keys(Settings()), set(settings.allow))
    if not report.passed:
        discard(Path(release_dir))  # a leaking release must not stay around
        raise GateFailed(report)
    return report


gate_task = task(gate_release, name="gate", cache_policy=NO_CACHE)
