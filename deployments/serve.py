"""Serve the build flow's deployments of every recipe (or the ones named) without a worker.

Run ``python deployments/serve.py [RECIPE ...]`` next to a Prefect server (``infra/server.sh``):
per recipe it serves ``<recipe>-nightly`` (cron), ``<recipe>-on-demand`` (a form in the UI)
and ``<recipe>-on-arrival`` (an event trigger; run ``sftforge watch INBOX --recipe RECIPE``).
The deployments are defined once in ``deployments/definitions.py``, which ``prefect.yaml``
is generated from. Flow runs execute in subprocesses of this process.
"""

from __future__ import annotations

import sys
from pathlib import Path

from prefect import serve

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from deployments.definitions import recipe_names, runner_deployments  # noqa: E402


def main(recipes: list[str]) -> None:
    """Serve the three deployments of each of ``recipes`` (all recipes when empty)."""
    deployments = [d for r in (recipes or recipe_names()) for d in runner_deployments(r)]
    # Keep schedules active when this process stops (serve() pauses them by default).
    serve(*deployments, pause_on_shutdown=False)


if __name__ == "__main__":
    main(sys.argv[1:])
