"""The same build on a 2-worker Dask LocalCluster exports exactly what the in-process build does."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from prefect import flow, task

from flows.build_dataset import BuildParams, build_dataset
from sftforge import store
from sftforge.scaleout import dask_runner, scaled
from sftforge.settings import DaskSettings, Settings
from tests.integration.conftest import read_jsonl
from tests.pdf_fixtures import good_english_pdf, handbook_corpus

pytestmark = pytest.mark.usefixtures("prefect_server")


def _build(corpus: Path, out: Path) -> list[dict]:
    summary = build_dataset(BuildParams(input_path=str(corpus), out_dir=str(out)))
    return read_jsonl(Path(summary["release_dir"]) / "samples.jsonl")


def test_dask_build_exports_the_same_samples(llm_env, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    from distributed import Client, LocalCluster, get_task_stream

    corpus = handbook_corpus(tmp_path / "corpus")
    good_english_pdf(corpus / "second_en.pdf", toc=False)  # other bytes: another document
    in_process = _build(corpus, tmp_path / "out-local")
    assert in_process
    chunks = store.count(Settings().db_uri, "chunks")

    monkeypatch.setenv("SFTFORGE_HOME", str(tmp_path / "home-dask"))  # a fresh database
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        monkeypatch.setenv("SFTFORGE_DASK__ADDRESS", cluster.scheduler_address)
        with get_task_stream(client) as stream:
            on_dask = _build(corpus, tmp_path / "out-dask")
    assert on_dask == in_process
    # Ingest and chunk (3 documents each) ran as 6 Dask tasks, on both worker processes.
    assert len(stream.data) == 6
    assert len({t["worker"] for t in stream.data}) == 2
    db = Settings().db_uri
    assert db.startswith(str(tmp_path / "home-dask"))
    assert store.count(db, "documents") == 3
    assert store.count(db, "chunks") == chunks  # writes from both workers lost no row


@task
def _pid(_: int) -> int:
    return os.getpid()


@flow
def _pids() -> list[int]:
    return [f.result() for f in [_pid.submit(i) for i in range(4)]]


def test_local_workers_setting_runs_tasks_in_worker_processes() -> None:
    assert dask_runner(DaskSettings()) is None  # default: the flow's own runner
    pids = scaled(_pids, DaskSettings(local_workers=2))()
    assert os.getpid() not in pids and 1 <= len(set(pids)) <= 2
