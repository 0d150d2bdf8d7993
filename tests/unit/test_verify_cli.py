"""``sftforge verify`` on a small labeled JSONL through the scripted OpenAI-compatible server
(real HTTP, log-probabilities), and its input errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator

import pytest
from typer.testing import CliRunner

from sftforge.cli import app
from sftforge.verifier.audit import AuditInputError, agreement, read_jsonl_rows
from tests.fakellm import FakeLLM

SQL = ("Prepared statements keep user data apart from the SQL code, so input can never change "
       "the structure of a query. A web application firewall only lowers the risk.")
CSP = "## 内容安全策略\n内容安全策略可以限制页面能加载的脚本来源，从而减轻跨站脚本攻击的危害。"
ROWS = [  # aliases on purpose: context/instruction/output and id
    {"id": "en-good", "context": SQL, "instruction": "Why do prepared statements stop SQL "
     "injection?", "output": "Prepared statements keep user data apart from the SQL code, so "
     "input can never change the structure of a query.", "label": "keep", "kind": "faithful"},
    {"pair_id": "en-invented", "source": SQL, "question": "Why do prepared statements stop SQL "
     "injection?", "answer": "Oracle patented them in 1987 and every browser enforces that "
     "patent.", "label": "drop", "kind": "unsupported_claim"},
    {"pair_id": "en-leans", "source": SQL, "question": "Why do prepared statements stop SQL "
     "injection?", "answer": "For the reason the passage gives above, as the author explains.",
     "label": "drop", "kind": "leans_on_source"},
    {"pair_id": "zh-good", "source": CSP, "question": "内容安全策略如何减轻跨站脚本攻击？",
     "answer": "内容安全策略限制页面能加载的脚本来源，从而减轻跨站脚本攻击的危害。",
     "citations": ["内容安全策略可以限制页面能加载的脚本来源"], "label": "keep",
     "kind": "faithful"},
    {"pair_id": "zh-heading", "source": CSP, "question": "内容安全策略如何减轻跨站脚本攻击？",
     "answer": "内容安全策略限制页面能加载的脚本来源，从而减轻跨站脚本攻击的危害。",
     "citations": ["内容安全策略"], "label": "drop", "kind": "heading_citation"},
]


@pytest.fixture
def fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeLLM]:
    monkeypatch.chdir(tmp_path)
    with FakeLLM() as server:
        monkeypatch.setenv("SFTFORGE_HOME", str(tmp_path / "home"))
        monkeypatch.setenv("SFTFORGE_LLM_BASE_URL", server.base_url)
        monkeypatch.setenv("SFTFORGE_LLM_MODEL", "fake-model")
        monkeypatch.setenv("SFTFORGE_LLM_MAX_RETRIES", "1")
        yield server


def _write(path: Path, rows: list) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    return path


def test_verify_a_labeled_file(fake: FakeLLM, tmp_path: Path) -> None:
    data, out = _write(tmp_path / "pairs.jsonl", ROWS), tmp_path / "verdicts.jsonl"
    result = CliRunner().invoke(app, ["verify", str(data), "--out", str(out)])
    assert result.exit_code == 0, result.output
    rows = {r["id"]: r for r in map(json.loads, out.read_text("utf-8").splitlines())}
    assert list(rows) == [r.get("pair_id") or r.get("id") for r in ROWS]
    assert rows["en-good"]["verdict"] == rows["zh-good"]["verdict"] == "keep"
    assert rows["en-invented"]["verdict"] == "drop" and "unsupported" in rows["en-invented"]["reasons"]
    assert "leans_on_source" in rows["en-leans"]["reasons"]
    assert rows["zh-heading"]["reasons"] == ["heading_citation"]
    for r in rows.values():  # each check's probability, read from the log-probabilities
        assert 0 <= r["supported"] <= 1 and 0 <= r["answers"] <= 1 and r["method"] == "logprobs"
    assert rows["en-invented"]["supported"] < 0.5 < rows["en-good"]["supported"]
    assert "agreement 1.000, balanced accuracy 1.000" in result.output
    assert "unsupported_claim" in result.output and "heading_citation" in result.output
    # Three checks per distinct pair (the Chinese rows differ only in their citations, so they
    # are asked once); a second run is answered from the request cache.
    assert len(fake.log) == 3 * 4
    again = CliRunner().invoke(app, ["verify", str(data), "--json"])
    assert again.exit_code == 0 and len(fake.log) == 3 * 4
    summary = json.loads(again.stdout)
    assert summary["labeled"]["balanced_accuracy"] == 1.0 and summary["dropped"] == 3


def test_agreement_and_balanced_accuracy() -> None:
    results = [{"verdict": v, "label": lab, "kind": k} for v, lab, k in [
        ("drop", "drop", "wrong_fact"), ("keep", "drop", "wrong_fact"), ("drop", "drop", "no_subject"),
        ("keep", "keep", "faithful"), ("keep", "keep", "faithful"), ("drop", "keep", "faithful"),
        ("keep", None, None)]]
    got = agreement(results)
    assert got["rows"] == 6 and got["agreement"] == round(4 / 6, 3)
    assert got["drop_recall"] == round(2 / 3, 3) and got["keep_recall"] == round(2 / 3, 3)
    assert got["balanced_accuracy"] == round(2 / 3, 3)
    assert got["kinds"] == {"wrong_fact": {"caught": 1, "total": 2},
                            "no_subject": {"caught": 1, "total": 1},
                            "faithful": {"caught": 2, "total": 3}}
    assert agreement([{"verdict": "keep", "label": None, "kind": None}]) is None


@pytest.mark.parametrize("row, message", [
    ({"context": SQL, "question": "q?"}, "row 2 (id 2): missing field 'answer' or 'output'"),
    ({"id": "x", "question": "q?", "answer": "a"}, "row 2 (id x): missing field 'source' or "
                                                   "'context'"),
    ({"source": SQL, "question": "q?", "answer": "a", "label": "yes"},
     "label 'yes' is not 'keep' or 'drop'"),
    ({"source": SQL, "question": "q?", "answer": "a", "citations": "quote"},
     "citations must be a list"),
])
def test_input_errors_name_the_row_and_field(tmp_path: Path, row: dict, message: str) -> None:
    data = _write(tmp_path / "bad.jsonl", [ROWS[0], row])
    with pytest.raises(AuditInputError, match="bad.jsonl row 2") as err:
        read_jsonl_rows(data)
    assert message in str(err.value)


def test_the_command_reports_input_errors_without_asking_the_model(fake: FakeLLM,
                                                                  tmp_path: Path) -> None:
    data = tmp_path / "broken.jsonl"
    data.write_text(json.dumps(ROWS[0]) + "\n{not json\n", "utf-8")
    result = CliRunner().invoke(app, ["verify", str(data)])
    assert result.exit_code == 2 and "broken.jsonl row 2: not valid JSON" in result.output
    folder = tmp_path / "not-a-release"
    folder.mkdir()
    result = CliRunner().invoke(app, ["verify", str(folder)])
    assert result.exit_code == 2 and "no samples.jsonl" in result.output
    assert fake.log == []
