"""Text from documents (file names, quarantine reasons, drop reasons) is printed as text, never
parsed as rich markup: a file starting with ``[/red]`` used to crash ``build`` after publishing
and crash ``status``."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from sftforge import cli
from sftforge.cli import app
from tasks.ingest import ingest_file

HOSTILE = "[/red][bold]x[/bold][/]"


def test_status_prints_hostile_names_and_reasons(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    monkeypatch.setenv("SFTFORGE_HOME", str(home))
    bad = tmp_path / "paper.pdf"
    bad.write_bytes(HOSTILE.encode())  # not a PDF: the reason quotes its first bytes
    ingest_file(str(bad), str(home / "lancedb"))
    result = CliRunner().invoke(app, ["status", "--home", str(home)], env={"COLUMNS": "400"})
    assert result.exit_code == 0, result.output
    assert "starts with b'[/red][bold]x[/b'" in result.output  # the reason quotes 16 bytes


def test_the_build_summary_prints_hostile_text(capsys: pytest.CaptureFixture) -> None:
    summary = {"version": "v0001-abcd", "counts": {"documents": 1}, "llm_requests": 0,
               "cache_hits": 0, "release_dir": f"/out/{HOSTILE}",
               "drop_reasons": {"clean": {HOSTILE: 1}},
               "quarantined": [{"path": f"/in/{HOSTILE}.pdf", "reason": f"{HOSTILE}: garbled"}],
               "gate": {"summary": "0 PII"}, "split_warnings": [HOSTILE]}
    cli._print_summary(summary)
    err = capsys.readouterr().err
    assert err.count(HOSTILE) >= 4
