"""What a build shows in the Prefect UI besides its task runs: artifacts.

Per flow run: a table of per-stage counts and drop reasons (key ``build-stages``), the dataset
card as Markdown (``dataset-card``), a link to the release folder (``release``), and while LLM
stages run a progress artifact per stage (``sftforge.progress.track`` calls
:func:`progress_reporter`). Artifacts are monitoring only: when the API refuses one, the build
logs it and goes on.
"""

from __future__ import annotations

import logging
import re
import threading
from pathlib import Path
from typing import Any, Callable
from uuid import UUID

log = logging.getLogger("sftforge")

STAGES_KEY, CARD_KEY, RELEASE_KEY = "build-stages", "dataset-card", "release"
PROGRESS_STEPS = 20  # updates per stage at most: the API is not flooded by big stages


def in_prefect_run() -> bool:
    """True inside a Prefect flow or task run (artifacts attach to it)."""
    from prefect.context import FlowRunContext, TaskRunContext

    return FlowRunContext.get() is not None or TaskRunContext.get() is not None


def artifact_key(text: str) -> str:
    """``text`` as an artifact key (lowercase letters, digits and dashes only)."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "progress"


def progress_reporter(desc: str, total: int) -> Callable[[int], None] | None:
    """``advance(n)`` updating a Prefect progress artifact for ``desc``, or None outside a
    run. Safe to call from the gateway's event loop and from several threads."""
    if total <= 0 or not in_prefect_run():
        return None
    from prefect.artifacts import create_progress_artifact, update_progress_artifact

    try:
        artifact_id: UUID = create_progress_artifact(
            0.0, key=artifact_key(f"progress-{desc.split(' (')[0]}"), description=desc,
            _sync=True)
    except Exception as exc:  # noqa: BLE001 - monitoring must never fail a build
        log.warning("progress artifact for %s not created: %s", desc, exc)
        return None
    done, shown, lock = [0], [0], threading.Lock()

    def advance(n: int = 1) -> None:
        with lock:
            done[0] += n
            step = done[0] * PROGRESS_STEPS // total
            if step <= shown[0] and done[0] < total:
                return
            shown[0] = step
            percent = min(100.0, 100.0 * done[0] / total)
        try:
            update_progress_artifact(artifact_id, percent, _sync=True)
        except Exception as exc:  # noqa: BLE001
            log.warning("progress artifact for %s not updated: %s", desc, exc)

    return advance


def stage_rows(summary: dict[str, Any]) -> list[dict[str, Any]]:
    """One table row per stage from ``summary.json``'s ``stages`` and ``drop_reasons``."""
    rows = []
    for name, st in summary.get("stages", {}).items():
        reasons = {**st.get("dropped", {}), **summary.get("drop_reasons", {}).get(name, {})}
        rows.append({
            "stage": name, "in": st.get("items_in", 0), "kept": st.get("kept", 0),
            "failed": st.get("failed", 0), "llm_requests": st.get("llm_requests", 0),
            "cache_hits": st.get("cache_hits", 0), "seconds": st.get("seconds", 0.0),
            "drop_reasons": "; ".join(f"{r}: {n}" for r, n in sorted(reasons.items())) or "-"})
    return rows


def publish_artifacts(summary: dict[str, Any]) -> dict[str, str]:
    """Create the stage table, card and release link artifacts of this run; returns
    key -> artifact id. ``summary`` is what the build returns (``release_dir`` included)."""
    from prefect.artifacts import (
        create_link_artifact,
        create_markdown_artifact,
        create_table_artifact,
    )

    try:
        return _publish(summary, create_table_artifact, create_markdown_artifact,
                        create_link_artifact)
    except Exception as exc:  # noqa: BLE001 - the release is written; only the UI lacks it
        log.warning("build artifacts not published: %s", exc)
        return {}


def _publish(summary: dict[str, Any], table: Any, markdown: Any, link: Any) -> dict[str, str]:
    release = Path(summary["release_dir"])
    version = summary.get("version", release.name)
    card = release / "README.md"
    made = {STAGES_KEY: table(stage_rows(summary), key=STAGES_KEY,
                              description=f"Stages of release {version}")}
    if card.is_file():
        made[CARD_KEY] = markdown(card.read_text("utf-8"), key=CARD_KEY,
                                  description=f"Dataset card of {version}")
    made[RELEASE_KEY] = link(
        release.resolve().as_uri(), link_text=f"release {version}", key=RELEASE_KEY,
        description=f"{summary.get('counts', {}).get('exported', 0)} samples exported")
    return {k: str(v) for k, v in made.items()}
