"""Where the CPU-heavy stages of a build run: in the flow process, or on a Dask cluster.

The ingest subflow (parse, chunk) gets a Prefect ``DaskTaskRunner`` when the settings ask for
one (``SFTFORGE_DASK__ADDRESS`` for an existing scheduler, ``SFTFORGE_DASK__LOCAL_WORKERS`` for
a ``LocalCluster`` started for the build); ``sftforge.stage.run_stage`` then submits the batches
of parallel-safe stages at once. Workers are processes because PyMuPDF is not thread-safe. LLM
stages stay in the flow process: they are I/O bound and already concurrent in the gateway.
"""

from __future__ import annotations

from typing import Any

from sftforge.settings import DaskSettings


def dask_runner(settings: DaskSettings) -> Any | None:
    """A ``DaskTaskRunner`` for ``settings``, or None for the default in-process runner."""
    if not settings.enabled:
        return None
    from prefect_dask import DaskTaskRunner  # only builds that scale out need dask

    if settings.address:
        return DaskTaskRunner(address=settings.address)
    return DaskTaskRunner(
        cluster_class="distributed.LocalCluster",
        cluster_kwargs={"n_workers": settings.local_workers, "processes": True,
                        "threads_per_worker": settings.threads_per_worker,
                        "dashboard_address": None})


def scaled(subflow: Any, settings: DaskSettings) -> Any:
    """``subflow`` running its tasks on Dask when ``settings`` ask for it, else unchanged."""
    runner = dask_runner(settings)
    return subflow.with_options(task_runner=runner) if runner else subflow
