"""export stage: trainer rows, CoT, system prompt, registry, release folder contract."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.json as pajson
import pytest
from prefect.logging import disable_run_logger

from tasks.export import (
    ExportSettings,
    dataset_info,
    export_task,
    to_alpaca,
    to_openai,
    to_sharegpt,
    write_release,
)

SCORES = {"clarity": 5, "faithfulness": 4, "relevance": 5, "completeness": 4, "overall": 4.5}
CN_Q = "什么是跨站脚本攻击（XSS）？"
CN_A = "跨站脚本攻击是把恶意脚本注入到可信网页中的攻击。"
CN_COT = "先回忆定义，再说明“注入”发生在哪里。"


def _sample(i: int, split: str | None = None, **extra: Any) -> dict[str, Any]:
    chinese = i % 2 == 1
    s = {
        "sample_id": f"s{i:03d}", "doc_id": f"d{i % 3}",
        "source": "网络安全.pdf" if chinese else "web-security.pdf", "page": i,
        "question": CN_Q if chinese else f"What does SQL injection #{i} exploit?",
        "answer": CN_A if chinese else "Unsanitised input concatenated into a SQL query.",
        "cot": CN_COT if chinese else ("" if i % 3 == 0 else "Recall the definition first."),
        **extra,
    }
    if split:
        s.update(split=split, cluster_id=f"c{i}", scores=dict(SCORES))
    return s


def _split_samples(n: int = 12) -> list[dict[str, Any]]:
    names = ["train", "train", "val", "test"]
    return [_sample(i, names[i % 4]) for i in range(n)]


def _read(path: Path) -> list[dict[str, Any]]:
    text = path.read_text("utf-8")
    if path.suffix == ".json":
        return json.loads(text)
    return [json.loads(line) for line in text.splitlines()]


# --- what LLaMA-Factory does with dataset_info.json ------------------------------------------

LF_COMMON = {"system", "tools", "images", "chosen", "rejected", "kto_tag"}
LF_COLUMNS = {"alpaca": LF_COMMON | {"prompt", "query", "response", "history"},
              "sharegpt": LF_COMMON | {"messages"}}
LF_TAGS = {"role_tag": "from", "content_tag": "value", "user_tag": "human",
           "assistant_tag": "gpt", "observation_tag": "observation",
           "function_tag": "function_call", "system_tag": "system"}


def lf_rows(release: Path, entry: dict[str, Any]) -> list[dict[str, Any]]:
    """Load a registered file the way `datasets`' json builder does: one schema for all rows."""
    path = release / entry["file_name"]
    assert path.is_file(), entry
    if path.suffix == ".jsonl":
        return pajson.read_json(path).to_pylist()
    return pa.Table.from_pylist(json.loads(path.read_text("utf-8"))).to_pylist()


def lf_check_alpaca(rows: list[dict[str, Any]], columns: dict[str, str]) -> None:
    col = {"prompt": "instruction", "query": "input", "response": "output", **columns}
    for row in rows:
        assert isinstance(row[col["prompt"]], str) and row[col["prompt"]].strip()
        assert isinstance(row[col["query"]], str)
        assert isinstance(row[col["response"]], str) and row[col["response"]].strip()
        if "system" in columns:
            assert row[col["system"]].strip()
        if "history" in columns:
            pairs = row[col["history"]]
            assert all(len(pair) == 2 and all(p.strip() for p in pair) for pair in pairs)


def lf_check_sharegpt(rows: list[dict[str, Any]], columns: dict[str, str], tags: dict) -> None:
    t = {**LF_TAGS, **tags}
    for row in rows:
        messages = row[columns.get("messages", "conversations")]
        if messages and messages[0][t["role_tag"]] == t["system_tag"]:
            assert messages[0][t["content_tag"]].strip()
            messages = messages[1:]
        elif "system" in columns:
            assert row[columns["system"]].strip()
        roles = [m[t["role_tag"]] for m in messages]
        assert len(roles) >= 2 and len(roles) % 2 == 0, roles
        assert roles == [t["user_tag"], t["assistant_tag"]] * (len(roles) // 2), roles
        assert all(m[t["content_tag"]].strip() for m in messages)


def lf_validate(release: Path) -> dict[str, int]:
    """Parse dataset_info.json like LLaMA-Factory's parser and check every row it would read."""
    info = json.loads((release / "dataset_info.json").read_text("utf-8"))
    seen = {}
    for name, entry in info.items():
        fmt = entry.get("formatting", "alpaca")
        assert fmt in LF_COLUMNS, name
        columns = entry.get("columns", {})
        assert set(columns) <= LF_COLUMNS[fmt], (name, columns)
        assert set(entry.get("tags", {})) <= set(LF_TAGS)
        assert "tags" not in entry or fmt == "sharegpt"  # LLaMA-Factory ignores them otherwise
        rows = lf_rows(release, entry)
        if fmt == "alpaca":
            lf_check_alpaca(rows, columns)
        else:
            lf_check_sharegpt(rows, columns, entry.get("tags", {}))
        seen[name] = len(rows)
    return seen


# --- single rows -----------------------------------------------------------------------------

def test_think_block_before_answer_only_when_asked_and_present() -> None:
    s = _sample(1)
    assert to_alpaca(s, True, None)["output"] == f"<think>\n{CN_COT}\n</think>\n\n{CN_A}"
    assert to_alpaca(s, False, None)["output"] == CN_A
    assert to_alpaca(_sample(0), True, None)["output"] == _sample(0)["answer"]  # empty cot
    stray = {**_sample(2), "cot": "<think>Recall the definition.</think>"}
    assert to_sharegpt(stray, True, None)["conversations"][1]["value"] == (
        "<think>\nRecall the definition.\n</think>\n\n" + stray["answer"])
    assert to_openai(s, True, None)["messages"][-1]["content"].startswith("<think>\n先回忆")


def test_no_empty_system_field() -> None:
    s = _sample(2)
    for system in (None, "", "  \n"):
        assert "system" not in to_alpaca(s, True, system)
        assert "system" not in to_sharegpt(s, True, system)
        assert [m["role"] for m in to_openai(s, True, system)["messages"]] == ["user", "assistant"]
    assert to_alpaca(s, True, " 你是网络安全专家。 ")["system"] == "你是网络安全专家。"
    first = to_openai(s, True, "Be brief.")["messages"][0]
    assert first == {"role": "system", "content": "Be brief."}


def test_multi_turn_rows() -> None:
    follow_up = [["那存储型呢？", "存储型 XSS 会把脚本存进服务器。"]]
    s = {**_sample(1), "turns": json.dumps(follow_up, ensure_ascii=False)}
    sg = to_sharegpt(s, True, None)["conversations"]
    assert [m["from"] for m in sg] == ["human", "gpt", "human", "gpt"]
    assert sg[2]["value"] == "那存储型呢？" and sg[1]["value"].startswith("<think>")
    al = to_alpaca(s, False, None)
    assert al["instruction"] == "那存储型呢？" and al["history"] == [[CN_Q, CN_A]]
    # The whole dialogue stored in turns (first exchange included) is not doubled.
    base = _sample(2)
    full = {**base, "turns": [{"question": base["question"], "answer": base["answer"]},
                              {"question": "And blind SQLi?", "answer": "Inferred via timing."}]}
    assert len(to_openai(full, False, None)["messages"]) == 4


# --- the release folder ----------------------------------------------------------------------

def test_per_split_release(tmp_path: Path) -> None:
    settings = ExportSettings(system_prompt="你是网络安全专家。")
    stats = write_release(tmp_path, _split_samples(), settings)
    names = {f"{fmt}_{split}{v}.jsonl" for fmt in ("alpaca", "sharegpt", "openai")
             for split in ("train", "val", "test") for v in ("", "_nocot")}
    assert set(stats["files"]) == names and stats["samples"] == 12 and stats["dropped"] == []
    assert {p.name for p in tmp_path.iterdir()} == names | {"dataset_info.json", "samples.jsonl"}
    assert stats["files"]["alpaca_train.jsonl"] == 6
    assert stats["files"]["openai_test_nocot.jsonl"] == 3
    assert _read(tmp_path / "alpaca_train.jsonl")[1]["output"].startswith("<think>\n")
    assert all("<think>" not in r["output"] for r in _read(tmp_path / "alpaca_train_nocot.jsonl"))
    info = json.loads((tmp_path / "dataset_info.json").read_text("utf-8"))
    assert info["sftforge_alpaca_train"] == {"file_name": "alpaca_train.jsonl", "columns": {
        "prompt": "instruction", "query": "input", "response": "output", "system": "system"}}
    assert info["sftforge_sharegpt_val_nocot"] == {
        "file_name": "sharegpt_val_nocot.jsonl", "formatting": "sharegpt",
        "columns": {"messages": "conversations", "system": "system"},
        "tags": {"role_tag": "from", "content_tag": "value", "user_tag": "human",
                 "assistant_tag": "gpt"}}
    assert info["sftforge_openai_test"]["tags"]["system_tag"] == "system"
    assert lf_validate(tmp_path) == {f"sftforge_{n[:-6]}": stats["files"][n] for n in names}


def test_unsplit_release_without_system(tmp_path: Path) -> None:
    samples = [_sample(i) for i in range(5)]
    stats = write_release(tmp_path, samples, ExportSettings(formats=["alpaca", "sharegpt"],
                                                            system_prompt=""))
    assert set(stats["files"]) == {"alpaca.jsonl", "alpaca_nocot.jsonl", "sharegpt.jsonl",
                                   "sharegpt_nocot.jsonl"}
    info = json.loads((tmp_path / "dataset_info.json").read_text("utf-8"))
    assert set(info) == {"sftforge_alpaca", "sftforge_alpaca_nocot", "sftforge_sharegpt",
                         "sftforge_sharegpt_nocot"}
    assert all("system" not in e["columns"] for e in info.values())
    for name in stats["files"]:
        assert all("system" not in row for row in _read(tmp_path / name))
    lf_validate(tmp_path)


def test_chinese_text_is_written_unescaped(tmp_path: Path) -> None:
    write_release(tmp_path, _split_samples(4), ExportSettings(system_prompt="你是专家。"))
    for path in tmp_path.iterdir():
        raw = path.read_bytes().decode("utf-8")
        assert "\\u" not in raw, path.name
    assert CN_A in (tmp_path / "sharegpt_train.jsonl").read_text("utf-8")
    assert "网络安全.pdf" in (tmp_path / "samples.jsonl").read_text("utf-8")


def test_samples_jsonl_contract(tmp_path: Path) -> None:
    samples = list(reversed(_split_samples(8)))
    samples[0]["domain_node"] = "web/xss"
    write_release(tmp_path, samples, ExportSettings(formats=["openai"]))
    rows = _read(tmp_path / "samples.jsonl")
    assert [r["sample_id"] for r in rows] == sorted(r["sample_id"] for r in rows)
    assert list(rows[0])[:10] == ["sample_id", "doc_id", "source", "page", "question", "answer",
                                  "cot", "split", "cluster_id", "scores"]
    assert rows[1]["scores"] == SCORES and rows[1]["source"] == "网络安全.pdf"
    assert rows[7]["domain_node"] == "web/xss" and rows[0]["domain_node"] is None
    assert pajson.read_json(tmp_path / "samples.jsonl").num_rows == 8  # one consistent schema


def test_bad_samples_dropped_with_reasons_and_mixed_split_refused(tmp_path: Path) -> None:
    samples = [_sample(0), _sample(1, answer="  "), _sample(2, question=""), _sample(0)]
    stats = write_release(tmp_path, samples, ExportSettings(formats=["alpaca"]))
    assert stats["samples"] == 1
    assert sorted(stats["dropped"], key=lambda d: d["sample_id"]) == [
        {"sample_id": "s000", "reason": "duplicate sample_id"},
        {"sample_id": "s001", "reason": "empty answer"},
        {"sample_id": "s002", "reason": "empty question"},
    ]
    with pytest.raises(ValueError, match="1 of 3 samples have no split"):
        write_release(tmp_path / "x", [_sample(0, "train"), _sample(1, "val"), _sample(2)],
                      ExportSettings())


def test_rebuild_removes_stale_trainer_files_and_keeps_foreign_entries(tmp_path: Path) -> None:
    write_release(tmp_path, [_sample(i) for i in range(3)], ExportSettings())
    (tmp_path / "dpo_train.jsonl").write_text("{}\n", "utf-8")
    info = json.loads((tmp_path / "dataset_info.json").read_text("utf-8"))
    info["sftforge_dpo_train"] = {"file_name": "dpo_train.jsonl", "ranking": True}
    (tmp_path / "dataset_info.json").write_text(json.dumps(info), "utf-8")
    stats = write_release(tmp_path, _split_samples(8), ExportSettings(with_cot=False))
    assert "alpaca.jsonl" in stats["removed"] and not (tmp_path / "alpaca.jsonl").exists()
    assert not any("nocot" in n for n in stats["files"])
    info = json.loads((tmp_path / "dataset_info.json").read_text("utf-8"))
    assert "sftforge_dpo_train" in info and "sftforge_alpaca" not in info
    assert all((tmp_path / e["file_name"]).is_file() for e in info.values())


def test_json_array_twins_and_multi_turn_history_column(tmp_path: Path) -> None:
    samples = _split_samples(8)
    samples[0]["turns"] = [["Is a WAF enough?", "No; it is defence in depth, not a fix."]]
    settings = ExportSettings(formats=["alpaca", "sharegpt"], also_without_cot=False,
                              json_array=True)
    stats = write_release(tmp_path, samples, settings)
    assert stats["files"]["alpaca_train.json"] == stats["files"]["alpaca_train.jsonl"] == 4
    info = json.loads((tmp_path / "dataset_info.json").read_text("utf-8"))
    assert info["sftforge_alpaca_train_json"]["file_name"] == "alpaca_train.json"
    assert info["sftforge_alpaca_train"]["columns"]["history"] == "history"
    assert "history" not in info["sftforge_alpaca_val"]["columns"]
    assert [len(r["history"]) for r in _read(tmp_path / "alpaca_train.jsonl")] == [1, 0, 0, 0]
    assert len(_read(tmp_path / "sharegpt_train.json")[0]["conversations"]) == 4
    lf_validate(tmp_path)


def test_dataset_info_openai_entry_and_unknown_format() -> None:
    info = dataset_info({"sftforge_openai": ("openai.jsonl", "openai")})
    assert info == {"sftforge_openai": {
        "file_name": "openai.jsonl", "formatting": "sharegpt", "columns": {"messages": "messages"},
        "tags": {"role_tag": "role", "content_tag": "content", "user_tag": "user",
                 "assistant_tag": "assistant", "system_tag": "system"}}}
    with pytest.raises(ValueError, match="unknown export format"):
        dataset_info({"x": ("x.jsonl", "dpo")})


def test_export_task_reads_samples_file(tmp_path: Path) -> None:
    path = tmp_path / "samples_in.jsonl"
    path.write_text("".join(json.dumps(s, ensure_ascii=False) + "\n" for s in _split_samples(4)),
                    "utf-8")
    with disable_run_logger():
        settings = ExportSettings(formats=["sharegpt"])
        stats = export_task.fn(str(tmp_path / "rel"), str(path), settings)
    assert stats["samples"] == 4 and set(stats["files"]) == {
        f"sharegpt_{s}{v}.jsonl" for s in ("train", "val", "test") for v in ("", "_nocot")}
    lf_validate(tmp_path / "rel")
