"""sftforge convert: every pair of formats round-trips field by field (Chinese and English,
multi-turn, with and without CoT); CoT kept, stripped or moved to a column; CSV column mapping."""

from __future__ import annotations

import json
from itertools import permutations
from pathlib import Path

import pytest

from sftforge.formats import from_record, read_rows, to_record, write_rows
from sftforge.formats.convert import convert_file
from sftforge.formats.records import Record
from sftforge.formats.spec import FormatError

SFT = ("alpaca", "sharegpt", "messages", "swift")
DPO = ("dpo-alpaca", "dpo-sharegpt", "swift")
ZH_COT = "<think>\n先回忆定义，再说明注入点。\n</think>\n\n跨站脚本攻击是把恶意脚本注入可信网页。"
EN_COT = "<think>\nRecall the definition first.\n</think>\n\nUnsanitised input reaches the SQL query."


def _msgs(*texts: str) -> list[dict[str, str]]:
    return [{"role": "user" if i % 2 == 0 else "assistant", "content": t} for i, t in enumerate(texts)]


SFT_RECORDS = [
    Record(_msgs("What does SQL injection exploit?", EN_COT), system="You are a security tutor."),
    Record(_msgs("什么是 XSS？", "一种注入攻击。", "如何防御？", ZH_COT), system="你是网络安全老师。"),
    Record(_msgs("Name one CSRF defence.", "SameSite cookies.", "And another?", "Anti-CSRF tokens.")),
    Record(_msgs("什么是会话固定？", "攻击者预先设定受害者的会话标识。")),
]
DPO_RECORDS = [
    Record(_msgs("What is XSS?"), system="Be brief.", chosen=EN_COT, rejected="A CSS framework."),
    Record(_msgs("什么是 XSS？", "一种注入攻击。", "如何防御？"), chosen=ZH_COT, rejected="不用防御。"),
]


def _write(path: Path, records: list[Record], fmt: str) -> Path:
    write_rows(path, [from_record(r, fmt) for r in records])
    return path


def _rows(path: Path) -> list[dict]:
    return [row for _, row in read_rows(path)]


def _roundtrip(tmp_path: Path, records: list[Record], a: str, b: str) -> None:
    src = _write(tmp_path / f"src.{a}.jsonl", records, a)
    mid = convert_file(src, b, tmp_path / f"mid.{b}.jsonl")
    back = convert_file(tmp_path / f"mid.{b}.jsonl", a, tmp_path / f"back.{a}.jsonl", fmt=b)
    assert (mid["rows_out"], back["rows_out"]) == (len(records), len(records))
    # The middle file holds the same samples, and the way back gives the same rows.
    assert [to_record(r, b) for r in _rows(tmp_path / f"mid.{b}.jsonl")] == records
    original, again = _rows(src), _rows(tmp_path / f"back.{a}.jsonl")
    for row, other in zip(original, again, strict=True):
        assert row.keys() == other.keys()
        for key in row:
            assert other[key] == row[key], (a, b, key)


@pytest.mark.parametrize("a,b", list(permutations(SFT, 2)))
def test_sft_pairs_round_trip(tmp_path: Path, a: str, b: str) -> None:
    _roundtrip(tmp_path, SFT_RECORDS, a, b)


@pytest.mark.parametrize("a,b", list(permutations(DPO, 2)))
def test_preference_pairs_round_trip(tmp_path: Path, a: str, b: str) -> None:
    _roundtrip(tmp_path, DPO_RECORDS, a, b)


def test_alpaca_rows_are_what_llamafactory_expects(tmp_path: Path) -> None:
    row = from_record(SFT_RECORDS[1], "alpaca")
    assert row == {"instruction": "如何防御？", "input": "", "output": ZH_COT,
                   "history": [["什么是 XSS？", "一种注入攻击。"]], "system": "你是网络安全老师。"}
    pair = from_record(DPO_RECORDS[0], "dpo-sharegpt")
    assert pair["conversations"] == [{"from": "human", "value": "What is XSS?"}]
    assert pair["chosen"] == {"from": "gpt", "value": EN_COT}
    swift = from_record(DPO_RECORDS[0], "swift")
    assert swift["messages"][0] == {"role": "system", "content": "Be brief."}
    assert swift["messages"][-1] == {"role": "assistant", "content": EN_COT}
    assert swift["rejected_response"] == "A CSS framework."


def test_cot_strip_and_column_and_back(tmp_path: Path) -> None:
    src = _write(tmp_path / "src.sharegpt.jsonl", SFT_RECORDS, "sharegpt")
    convert_file(src, "alpaca", tmp_path / "bare.jsonl", cot="strip")
    bare = _rows(tmp_path / "bare.jsonl")
    assert "<think>" not in json.dumps(bare, ensure_ascii=False)
    assert bare[1]["output"] == "跨站脚本攻击是把恶意脚本注入可信网页。"
    convert_file(src, "alpaca", tmp_path / "col.jsonl", cot="column")
    col = _rows(tmp_path / "col.jsonl")
    assert (col[0]["cot"], col[0]["output"]) == ("Recall the definition first.",
                                                 "Unsanitised input reaches the SQL query.")
    assert col[2]["cot"] is None  # a row without CoT gets an empty cell, not a made-up one
    convert_file(tmp_path / "col.jsonl", "sharegpt", tmp_path / "again.jsonl")
    assert _rows(tmp_path / "again.jsonl") == _rows(src)


def test_csv_with_column_mapping_and_registry(tmp_path: Path) -> None:
    src = tmp_path / "qa.csv"
    src.write_text("prompt_text,reply,cot\n什么是 XSS？,一种注入攻击。,先回忆定义。\n"
                   "What is CSRF?,A forged cross-site request.,\n", "utf-8")
    out = convert_file(src, "sharegpt", tmp_path / "qa.sharegpt.jsonl",
                       columns={"instruction": "prompt_text", "output": "reply"})
    assert (out["from"], out["rows_out"]) == ("alpaca", 2)
    rows = _rows(tmp_path / "qa.sharegpt.jsonl")
    assert rows[0]["conversations"][1]["value"] == "<think>\n先回忆定义。\n</think>\n\n一种注入攻击。"
    assert rows[1]["conversations"][1]["value"] == "A forged cross-site request."
    info = json.loads((tmp_path / "dataset_info.json").read_text("utf-8"))
    assert info["qa.sharegpt"]["file_name"] == "qa.sharegpt.jsonl"
    assert info["qa.sharegpt"]["columns"] == {"messages": "conversations"}


def test_bad_rows_stop_the_conversion_with_their_row_numbers(tmp_path: Path) -> None:
    src = tmp_path / "bad.jsonl"
    src.write_text('{"instruction": "Q1", "output": "A1"}\n{"instruction": "Q2", "output": ""}\n',
                   "utf-8")
    with pytest.raises(FormatError, match=r"bad.jsonl row 2: empty 'output'"):
        convert_file(src, "sharegpt")
    done = convert_file(src, "sharegpt", skip_bad=True)
    assert done["skipped"] == [{"row": 2, "reason": "empty 'output'"}]
    with pytest.raises(FormatError, match="preference pair"):
        from_record(DPO_RECORDS[0], "alpaca")
