"""The build flow on a real Prefect server, a real LanceDB and real PDFs, against FakeLLM."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from flows.build_dataset import BuildParams, build_dataset
from sftforge import store
from sftforge.release.staging import EmptyRelease
from sftforge.settings import Settings
from tests.integration.conftest import SECRET, files_containing, read_jsonl
from tests.pdf_fixtures import handbook_corpus

pytestmark = pytest.mark.usefixtures("prefect_server")


def test_build_exports_and_second_build_is_free(llm_env, tmp_path: Path) -> None:
    corpus, out = handbook_corpus(tmp_path / "corpus"), tmp_path / "out"
    first = build_dataset(BuildParams(input_path=str(corpus), out_dir=str(out)))
    sent = llm_env.requests
    assert sent > 0 and first["llm_requests"] == sent
    release = Path(first["release_dir"])
    samples = read_jsonl(release / "samples.jsonl")
    assert samples, "no sample exported"
    doc_ids = {r["doc_id"] for r in samples}
    assert len(doc_ids) == 2  # English and Chinese both made it through
    for row in samples:
        assert row["doc_id"] and isinstance(row["page"], int) and row["page"] >= 1
        assert row["source"] in {"handbook_en.pdf", "handbook_zh.pdf"}
        assert row["split"] in {"train", "val", "test"} and row["question"] and row["answer"]
    assert list(release.glob("alpaca_*.jsonl")) and list(release.glob("sharegpt_*.jsonl"))
    info = json.loads((release / "dataset_info.json").read_text("utf-8"))
    assert all((release / entry["file_name"]).exists() for entry in info.values())

    second = build_dataset(BuildParams(input_path=str(corpus), out_dir=str(out)))
    assert llm_env.requests == sent, "the second build sent LLM requests"
    assert second["llm_requests"] == 0
    assert second["version"] == first["version"]
    assert read_jsonl(Path(second["release_dir"]) / "samples.jsonl") == samples
    assert store.count(Settings().db_uri, "samples") == first["counts"]["samples"]
    # The API key never reaches releases, data, caches or Prefect's stored task results.
    assert files_containing(tmp_path, SECRET) == []
    assert files_containing(Path(os.environ["PREFECT_LOCAL_STORAGE_PATH"]), SECRET) == []


def test_changing_judge_threshold_makes_no_llm_request(llm_env, tmp_path: Path) -> None:
    corpus, out = handbook_corpus(tmp_path / "corpus"), tmp_path / "out"
    first = build_dataset(BuildParams(input_path=str(corpus), out_dir=str(out)))
    sent = llm_env.requests
    strict = BuildParams(input_path=str(corpus), out_dir=str(out),
                         judge={"min_overall": 9.5, "min_faithfulness": 9})
    # FakeLLM scores 8/10: the stricter threshold drops everything, by reason; an empty
    # release is never published (LATEST stays on the first build's).
    with pytest.raises(EmptyRelease, match="low_faithfulness") as empty:
        build_dataset(strict)
    assert llm_env.requests == sent and first["counts"]["exported"] > 0
    assert "thresholds" in str(empty.value)
    assert (out / "releases" / "LATEST").read_text().strip() == first["version"]


def test_rebuild_after_losing_the_database_restores_rows_without_paying(llm_env, tmp_path: Path) -> None:
    corpus, out = handbook_corpus(tmp_path / "corpus"), tmp_path / "out"
    first = build_dataset(BuildParams(input_path=str(corpus), out_dir=str(out)))
    sent = llm_env.requests
    # Prefect's cached results and the request cache survive; the tables do not.
    shutil.rmtree(Settings().db_uri)
    store.connect.cache_clear()
    second = build_dataset(BuildParams(input_path=str(corpus), out_dir=str(out)))
    assert llm_env.requests == sent, "lost rows were paid for again"
    assert second["cache_hits"] > 0
    assert second["counts"]["exported"] == first["counts"]["exported"]
    assert read_jsonl(Path(second["release_dir"]) / "samples.jsonl") == read_jsonl(
        Path(first["release_dir"]) / "samples.jsonl")
