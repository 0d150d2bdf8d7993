"""sftforge check: broken rows reported with their row numbers and a non-zero exit; duplicates,
leakage between train/test files, lengths, languages, PII; a clean file exits 0."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from sftforge.cli import app


def _h(text: Any) -> dict:
    return {"from": "human", "value": text}


def _g(text: Any) -> dict:
    return {"from": "gpt", "value": text}


GOOD = {"conversations": [_h("什么是 XSS？"), _g("一种把脚本注入网页的攻击。")]}
TRAIN = [
    GOOD,
    {"conversations": [_g("Wrong order"), _h("What is CSRF?")]},
    {"conversations": [_h("What is SQL injection?"), _g("")]},
    GOOD,
    {"conversations": [_h("What is SSRF?"), _g(42)]},
    {"conversations": [_h("Mail admin@example.org"), _g("Contact admin@example.org for access.")]},
    {"conversations": [_h("什么是 XSS ？"), _g("一种把脚本注入网页的攻击")]},
]
TEST = [
    {"conversations": [_h("什么是XSS？"), _g("跨站脚本。")]},
    {"conversations": [_h("What is clickjacking?"), _g("Tricking a user into clicking a hidden frame.")]},
]


def _jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    return path


def _check(*args: str) -> tuple[int, dict]:
    result = CliRunner().invoke(app, ["check", *args, "--json"])
    return result.exit_code, json.loads(result.stdout)


def test_broken_files_report_each_problem_with_its_row(tmp_path: Path) -> None:
    train = _jsonl(tmp_path / "sharegpt_train.jsonl", TRAIN)
    test = _jsonl(tmp_path / "sharegpt_test.jsonl", TEST)
    code, out = _check(str(train), str(test))
    assert code == 1
    report = out["files"][0]
    assert (report["format"], report["split"], report["rows"]) == ("sharegpt", "train", 7)
    assert report["problems"] == [
        {"row": 2, "problem": "roles do not alternate: conversations[1] is assistant, expected user"},
        {"row": 3, "problem": "conversations[2] (gpt) has an empty 'value'"},
        {"row": 5, "problem": "conversations[2] (gpt) 'value' is int, expected text"},
    ]
    assert report["duplicates"] == [{"row": 4, "same_as": 1}]
    assert report["near_duplicates"] == [{"row": 7, "same_as": 1}]
    assert report["languages"] == {"zh": 3, "en": 1}
    assert report["pii"]["rows"] == [{"row": 6, "kinds": {"EMAIL": 2}}]
    assert out["leaks"] == [{"file": str(test), "row": 1, "split": "test", "other_file": str(train),
                             "other_row": 1, "other_split": "train"}]
    assert out["verdict"]["ok"] is False
    assert out["verdict"]["summary"].startswith(
        "FAIL: 3 row problems a trainer would drop or misread; 1 rows leaked across splits")


def test_messages_and_alpaca_rules(tmp_path: Path) -> None:
    rows = [
        {"messages": [{"role": "user", "content": "Hi"}, {"role": "system", "content": "late"},
                      {"role": "assistant", "content": "Hello"}]},
        {"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Q"},
                      {"role": "assistant", "content": "A"}, {"role": "user", "content": "Q2"}]},
        {"messages": [{"role": "user", "content": "Q"}, {"role": "assistant", "content": "A"}]},
    ]
    code, out = _check(str(_jsonl(tmp_path / "chat.jsonl", rows)))
    assert code == 1
    assert out["files"][0]["problems"] == [
        {"row": 1, "problem": "system message at messages[2]; only the first message may be system"},
        {"row": 2, "problem": "conversation ends on user, expected an assistant answer last"},
    ]
    alpaca = [{"instruction": "Q", "output": "A", "history": "not a list"},
              {"instruction": "", "input": "", "output": "A"},
              {"instruction": "Q", "chosen": "same", "rejected": "same"}]
    code, out = _check(str(_jsonl(tmp_path / "a.jsonl", alpaca)), "--format", "alpaca")
    assert code == 1
    assert [p["row"] for p in out["files"][0]["problems"]] == [1, 2, 3]
    assert out["files"][0]["problems"][2]["problem"] == "missing 'output'"


def test_clean_file_exits_zero_and_prints_a_verdict(tmp_path: Path) -> None:
    clean = _jsonl(tmp_path / "clean.jsonl", [GOOD, TEST[1]])
    result = CliRunner().invoke(app, ["check", str(clean)])
    assert result.exit_code == 0, result.stdout
    assert "clean.jsonl: sharegpt, 2 rows" in result.stdout
    assert result.stdout.strip().endswith("OK")


def test_unreadable_file_names_the_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"instruction": "Q", "output": "A"}\n{"instruction": \n', "utf-8")
    code, out = _check(str(bad))
    assert code == 1
    assert out["errors"][0].startswith(f"{bad}:2: invalid JSON")


def test_length_outliers_and_cutoff(tmp_path: Path) -> None:
    rows = [{"instruction": f"Question {i} about XSS?", "output": "Escape output."} for i in range(24)]
    rows.append({"instruction": "Explain everything.", "output": "word " * 3000})
    code, out = _check(str(_jsonl(tmp_path / "long.jsonl", rows)), "--cutoff", "1000")
    tokens = out["files"][0]["tokens"]
    assert code == 0  # long rows are a warning: the trainer truncates them, it keeps them
    assert tokens["over_cutoff"] == [25]
    assert [o["row"] for o in tokens["outliers"]] == [25]
