"""General-data mixing: the requested ratio in the train split only, the source recorded."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from sftforge.formats import FormatError, row_problems
from sftforge.release.general_mix import GeneralMixSettings, general_count
from tasks.export import ExportSettings, write_release


def _samples(n_train: int, n_val: int, n_test: int) -> list[dict[str, Any]]:
    splits = ["train"] * n_train + ["val"] * n_val + ["test"] * n_test
    return [{"sample_id": f"s{i:03d}", "doc_id": "d1", "source": "a.pdf", "page": 1,
             "question": f"What does SQL injection #{i} exploit?",
             "answer": "Input concatenated into a query.", "cot": "Recall it.", "split": split}
            for i, split in enumerate(splits)]


def _general_alpaca(path: Path, n: int) -> Path:
    rows = [{"instruction": f"General task {i}: 写一首关于秋天的诗" if i % 2 else f"Add {i} and 2.",
             "input": "", "output": f"Answer {i}.", "id": f"g{i}"} for i in range(n)]
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), "utf-8")
    return path


def _read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines()]


def test_ratio_is_met_in_train_and_eval_splits_stay_domain_only(tmp_path: Path) -> None:
    general = _general_alpaca(tmp_path / "general.jsonl", 50)
    settings = ExportSettings(general=GeneralMixSettings(path=str(general), ratio=0.3))
    stats = write_release(tmp_path / "out", _samples(20, 3, 3), settings)
    out = tmp_path / "out"
    # 20 domain rows at 30:70 -> round(20 * 0.3 / 0.7) = 9 general rows: 9 / 29 = 0.3103.
    for name in ("alpaca_train.jsonl", "alpaca_train_nocot.jsonl", "sharegpt_train.jsonl",
                 "openai_train.jsonl"):
        assert stats["files"][name] == 29, name
    train = _read(out / "alpaca_train.jsonl")
    general_rows = [r for r in train if r["instruction"].startswith(("General", "Add"))]
    assert len(general_rows) == 9 and all("id" not in r for r in general_rows)
    for split in ("val", "test"):
        rows = _read(out / f"alpaca_{split}.jsonl")
        assert len(rows) == 3 and all("SQL injection" in r["instruction"] for r in rows)
    mix = stats["general_mix"]
    assert mix["splits"] == {"train": {"domain": 20, "general": 9, "ratio": 0.3103}}
    assert mix["source"] == "general.jsonl" and mix["format"] == "alpaca"
    assert mix["rows_available"] == 50 and mix["ratio_requested"] == 0.3 and len(mix["sha256"]) == 64
    # The same general rows in every format, and every row valid for its trainer.
    share = _read(out / "sharegpt_train.jsonl")
    assert {r["conversations"][0]["value"] for r in share} == {r["instruction"] for r in train}
    for fmt, name in (("alpaca", "alpaca_train"), ("sharegpt", "sharegpt_train"),
                      ("messages", "openai_train")):
        assert all(not row_problems(r, fmt) for r in _read(out / f"{name}.jsonl")), name


def test_in_eval_mixes_into_val_and_test_without_sharing_rows(tmp_path: Path) -> None:
    rows = [{"conversations": [{"from": "system", "value": "Be brief."},
                               {"from": "human", "value": f"Q{i}"}, {"from": "gpt", "value": "A"}]}
            for i in range(40)]
    general = tmp_path / "general.parquet"
    pq.write_table(pa.Table.from_pylist(rows), general)
    settings = ExportSettings(formats=["sharegpt"], general=GeneralMixSettings(
        path=str(general), ratio=0.5, in_eval=True))
    stats = write_release(tmp_path / "out", _samples(10, 4, 4), settings)
    assert stats["general_mix"]["splits"] == {
        "train": {"domain": 10, "general": 10, "ratio": 0.5},
        "val": {"domain": 4, "general": 4, "ratio": 0.5},
        "test": {"domain": 4, "general": 4, "ratio": 0.5}}
    seen = {s: {r["conversations"][0]["value"] for r in _read(tmp_path / "out" / f"sharegpt_{s}.jsonl")
                if r.get("system")} for s in ("train", "val", "test")}
    assert [len(v) for v in seen.values()] == [10, 4, 4]
    assert not (seen["train"] & seen["val"]) and not (seen["train"] & seen["test"])
    info = json.loads((tmp_path / "out" / "dataset_info.json").read_text("utf-8"))
    assert info["sftforge_sharegpt_train"]["columns"]["system"] == "system"


def test_bad_general_file_names_the_row(tmp_path: Path) -> None:
    general = _general_alpaca(tmp_path / "general.jsonl", 3)
    general.write_text(general.read_text("utf-8") + '\n{"instruction": "", "output": ""}', "utf-8")
    with pytest.raises(FormatError, match=r"general.jsonl: 1 of 4 alpaca rows are invalid \(row 4"):
        write_release(tmp_path / "out", _samples(2, 0, 0), ExportSettings(
            general=GeneralMixSettings(path=str(general), ratio=0.3)))
    with pytest.raises(ValueError, match="set a ratio above 0"):
        GeneralMixSettings(path=str(general))
    with pytest.raises(ValueError, match="general mix: .*missing.jsonl is not a file"):
        GeneralMixSettings(path=str(tmp_path / "missing.jsonl"), ratio=0.3)


def test_general_count_caps_at_what_the_file_has() -> None:
    assert general_count(70, 0.3, 1000) == 30 and general_count(70, 0.3, 12) == 12
