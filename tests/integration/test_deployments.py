"""Deployments of the build flow on a real Prefect server: created from the recipes, an on-demand
run with parameters and an on-arrival run started by the inbox watcher's event, both executed by
a Runner, with their artifacts read back through the API."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from deployments.definitions import (
    PREFECT_YAML,
    DeploySettings,
    deployment_specs,
    prefect_yaml,
    runner_deployments,
)
from sftforge.watch import INBOX_EVENT, inbox_resource_id, watch
from tests.pdf_fixtures import good_chinese_pdf, good_english_pdf

pytestmark = pytest.mark.usefixtures("prefect_server")
REPO = Path(__file__).resolve().parents[2]
RECIPE = "web-security"


def test_prefect_yaml_is_generated_from_the_definitions() -> None:
    assert PREFECT_YAML.read_text("utf-8") == prefect_yaml(DeploySettings.model_construct())
    names = [d["name"] for d in yaml.safe_load(PREFECT_YAML.read_text("utf-8"))["deployments"]]
    assert names == [f"{RECIPE}-nightly", f"{RECIPE}-on-demand", f"{RECIPE}-on-arrival"]


def test_parameters_never_hold_a_key_and_the_form_has_the_build_settings() -> None:
    from flows.build_dataset import build_dataset

    specs = deployment_specs(RECIPE, DeploySettings.model_construct())
    assert "key" not in yaml.safe_dump([s["parameters"] for s in specs]).lower()
    form = build_dataset.parameters.model_dump()["definitions"]["BuildParams"]["properties"]
    assert {"input_path", "recipe", "judge", "export", "questions"} <= set(form)
    assert not [p for p in form if "key" in p.lower() or "base_url" in p.lower()]


async def _wait_for(probe: Any, what: str, limit_s: float = 120.0) -> Any:
    """Poll ``probe()`` until it returns something truthy (a deadline, not a timing check)."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        if value := await probe():
            return value
        await asyncio.sleep(0.5)
    raise AssertionError(f"gave up waiting for {what}")


async def test_deployments_run_on_demand_and_on_arrival(llm_env, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from prefect import get_client
    from prefect.client.schemas.filters import (
        DeploymentFilter,
        DeploymentFilterId,
        FlowRunFilter,
        FlowRunFilterId,
    )
    from prefect.events.filters import EventFilter, EventNameFilter
    from prefect.runner import Runner

    monkeypatch.setenv("SFTFORGE_TIMEZONE", "Asia/Shanghai")
    monkeypatch.setenv("PYTHONPATH", str(REPO))  # the runner's flow-run processes import flows/
    corpus, inbox, staging = tmp_path / "corpus", tmp_path / "inbox", tmp_path / "staging"
    for d in (corpus, inbox, staging):
        d.mkdir()
    # On-arrival builds read only inside the configured inbox root (an event names the path).
    monkeypatch.setenv("SFTFORGE_INBOX_ROOT", str(inbox))
    good_english_pdf(corpus / "handbook_en.pdf")

    runner = Runner(name="sftforge-test", pause_on_shutdown=False)
    ids = {d.name: await runner.aadd_deployment(d) for d in runner_deployments(RECIPE)}
    async with get_client() as client:
        nightly = await client.read_deployment_by_name(f"build_dataset/{RECIPE}-nightly")
        schedule = nightly.schedules[0].schedule
        assert (schedule.cron, schedule.timezone) == ("0 2 * * *", "Asia/Shanghai")
        assert nightly.parameters["params"]["recipe"] == RECIPE

        on_demand = await client.create_flow_run_from_deployment(
            ids[f"{RECIPE}-on-demand"], parameters={"params": {
                "input_path": str(corpus), "out_dir": str(tmp_path / "out"),
                "judge": {"min_overall": 5.0, "min_faithfulness": 5}}})

        # Two documents land in the inbox at once: the watcher sends one event for both.
        events: list[list[str]] = []
        watcher = threading.Thread(target=watch, args=(inbox, RECIPE), daemon=True, kwargs={
            "settle_s": 1.0, "poll_s": 0.2, "on_emit": events.append, "max_events": 1})
        watcher.start()
        await asyncio.sleep(0.5)  # the watcher has taken its first look at the empty inbox
        good_english_pdf(staging / "new_en.pdf", toc=False)  # not the bytes of handbook_en.pdf
        good_chinese_pdf(staging / "new_zh.pdf")
        for f in staging.iterdir():
            os.replace(f, inbox / f.name)
        watcher.join(timeout=60)
        assert [[Path(p).name for p in e] for e in events] == [["new_en.pdf", "new_zh.pdf"]]

        arrival_filter = DeploymentFilter(id=DeploymentFilterId(any_=[ids[f"{RECIPE}-on-arrival"]]))

        async def arrived() -> list:
            return await client.read_flow_runs(deployment_filter=arrival_filter)

        arrival_runs = await _wait_for(arrived, "the trigger to start an on-arrival run")
        assert len(arrival_runs) == 1
        assert arrival_runs[0].parameters["params"]["input_path"] == str(inbox.resolve())

        async def sent() -> list:
            page = await client.read_events(filter=EventFilter(
                event=EventNameFilter(name=[INBOX_EVENT])), limit=50)  # server max
            return page.events

        events_read = await _wait_for(sent, "the inbox event to be stored")
        assert [e.resource.id for e in events_read] == [inbox_resource_id(RECIPE)]
        assert events_read[0].payload["files"] == ["new_en.pdf", "new_zh.pdf"]

        await runner.start(run_once=True)
        run_ids = [on_demand.id, arrival_runs[0].id]

        async def finished() -> list:
            runs = await client.read_flow_runs(flow_run_filter=FlowRunFilter(
                id=FlowRunFilterId(any_=run_ids)))
            return runs if all(r.state and r.state.is_final() for r in runs) else []

        runs = await _wait_for(finished, "both runs to finish", limit_s=600)
        assert {r.state.type.value for r in runs} == {"COMPLETED"}, [r.state for r in runs]
        await _check_artifacts(client, on_demand.id, tmp_path / "out")
        await _check_task_runs(client)


async def _check_task_runs(client: Any) -> None:
    """Task runs are named after their work; LLM ones carry the concurrency-limit tag."""
    from prefect.client.schemas.filters import TaskRunFilter, TaskRunFilterTags

    names = {t.name for t in await client.read_task_runs(limit=200)}
    assert {"ingest: handbook_en.pdf", "ingest: new_zh.pdf", "chunk: new_en.pdf"} <= names
    tagged = await client.read_task_runs(task_run_filter=TaskRunFilter(
        tags=TaskRunFilterTags(all_=["sftforge-llm"])))
    # The session's server also holds other tests' runs (e.g. per-chunk ones): every LLM stage
    # of these builds is tagged, and no stage that is not an LLM stage.
    tagged_names = {t.name.split(":")[0] for t in tagged}
    assert {"domain_tree", "questions", "answers", "judge"} <= tagged_names
    assert not tagged_names & {"ingest", "chunk", "clean", "dedup", "split", "thresholds"}


async def _check_artifacts(client: Any, run_id: Any, out: Path) -> None:
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    artifacts = await client.read_artifacts(artifact_filter=ArtifactFilter(
        flow_run_id=ArtifactFilterFlowRunId(any_=[run_id])))
    by_key = {a.key: a for a in artifacts if a.key}
    assert {"build-stages", "dataset-card", "release"} <= set(by_key)
    rows = by_key["build-stages"].data
    rows = yaml.safe_load(rows) if isinstance(rows, str) else rows
    ingest = next(r for r in rows if r["stage"] == "ingest")
    assert (ingest["in"], ingest["kept"]) == (1, 1)
    release = next(out.glob("releases/v0001-*"))
    assert by_key["release"].data == f"[release {release.name}]({release.resolve().as_uri()})"
    assert by_key["dataset-card"].data == (release / "README.md").read_text("utf-8")
    # Progress artifacts belong to the task runs of the LLM stages (in the generate subflow).
    progress = [a for a in await client.read_artifacts() if a.type == "progress"]
    # ... and of stages with several task runs (the on-arrival build ingests 2 files).
    # (The session's server also holds other tests' runs, e.g. one a budget cap stopped half
    # way: each key must have reached 100% here, not every run on the server.)
    done = {a.key for a in progress if a.data == 100.0}
    assert done >= {"progress-questions", "progress-answers", "progress-ingest", "progress-chunk"}


def test_prefect_deploy_accepts_the_generated_prefect_yaml(tmp_path: Path) -> None:
    """``prefect deploy --all`` (the worker path) creates the same three deployments."""
    import subprocess
    import sys

    from prefect import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.settings import get_current_settings

    with get_client(sync_client=True) as client:
        if not [p for p in client.read_work_pools() if p.name == "sftforge"]:
            client.create_work_pool(WorkPoolCreate(name="sftforge", type="process"))
    env = {**os.environ, **get_current_settings().to_environment_variables(exclude_unset=True),
           "PYTHONPATH": str(REPO), "SFTFORGE_REPO": str(REPO), "PREFECT_HOME": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-m", "prefect", "--no-prompt", "deploy", "--all",
         "--prefect-file", str(PREFECT_YAML)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    with get_client(sync_client=True) as client:
        nightly = client.read_deployment_by_name(f"build_dataset/{RECIPE}-nightly")
        arrival = client.read_deployment_by_name(f"build_dataset/{RECIPE}-on-arrival")
        triggers = client.read_resource_related_automations(
            f"prefect.deployment.{arrival.id}")
    assert nightly.work_pool_name == "sftforge"
    assert (nightly.schedules[0].schedule.cron, nightly.schedules[0].schedule.timezone) == (
        "0 2 * * *", "UTC")
    assert [t.trigger.expect for t in triggers] == [{INBOX_EVENT}]
    assert [t.trigger.match.model_dump()["prefect.resource.id"] for t in triggers] == [
        inbox_resource_id(RECIPE)]
