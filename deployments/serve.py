"""Serve the build flow: a nightly incremental rebuild plus an on-demand deployment.

Run ``python deployments/serve.py`` next to a Prefect server (``infra/server.sh``); trigger runs
and watch every task run in the Prefect UI. Parameters come from the recipe file
(``deployments/recipes/<name>.yaml``) and can be edited per run in the UI form.
"""

from __future__ import annotations

import sys
from pathlib import Path

import yaml
from prefect import serve

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from flows.build_dataset import BuildParams, build_dataset  # noqa: E402


def load_recipe(name: str) -> BuildParams:
    """Build parameters from ``deployments/recipes/<name>.yaml``."""
    path = Path(__file__).parent / "recipes" / f"{name}.yaml"
    return BuildParams(**yaml.safe_load(path.read_text("utf-8")))


def main(recipe: str = "web-security") -> None:
    """Serve the nightly and on-demand deployments of ``recipe`` until interrupted."""
    params = {"params": load_recipe(recipe).model_dump(mode="json")}
    nightly = build_dataset.to_deployment(
        name=f"{recipe}-nightly", cron="0 2 * * *", parameters=params,
        description="Nightly incremental rebuild: only new documents cost LLM calls.",
    )
    on_demand = build_dataset.to_deployment(name=f"{recipe}-on-demand", parameters=params)
    # Keep schedules active when this process stops (serve() pauses them by default).
    serve(nightly, on_demand, pause_on_shutdown=False)


if __name__ == "__main__":
    main(*sys.argv[1:2])
