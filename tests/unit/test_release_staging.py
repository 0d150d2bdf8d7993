"""Atomic releases: staged, then renamed; a published version is never removed or rewritten."""

from __future__ import annotations

from pathlib import Path

import pytest

from sftforge.release.diff import diff_against_previous
from sftforge.release.staging import (discard, latest, promote, published, releases_root,
                                      staging_dir)
from tasks.gate import GateSettings, gate_release


def _stage(releases: Path, run: str, version: str, text: str) -> Path:
    staged = staging_dir(releases, run, version)
    (staged / "samples.jsonl").write_text(text, "utf-8")
    return staged


def test_promote_renames_into_place_and_moves_latest(tmp_path: Path) -> None:
    releases = tmp_path / "releases"
    staged = _stage(releases, "run1", "v0001-aaaa", '{"answer": "one"}\n')
    assert releases_root(staged) == releases and not published(releases, "v0001-aaaa")
    final = promote(staged, "v0001-aaaa")
    assert final == releases / "v0001-aaaa" and latest(releases) == "v0001-aaaa"
    assert not (releases / ".staging").exists()  # nothing left behind


def test_a_published_version_is_never_rewritten(tmp_path: Path) -> None:
    releases = tmp_path / "releases"
    promote(_stage(releases, "run1", "v0001-aaaa", "first build\n"), "v0001-aaaa")
    promote(_stage(releases, "run2", "v0002-bbbb", "second\n"), "v0002-bbbb")
    # The same content as v0001 again: its folder stays as it was, LATEST moves back to it.
    again = promote(_stage(releases, "run3", "v0001-aaaa", "rebuilt\n"), "v0001-aaaa")
    assert (again / "samples.jsonl").read_text("utf-8") == "first build\n"
    assert latest(releases) == "v0001-aaaa"
    with pytest.raises(ValueError, match="never removed"):
        discard(releases / "v0001-aaaa")


def test_a_failed_gate_removes_only_the_staged_copy(tmp_path: Path) -> None:
    releases = tmp_path / "releases"
    promote(_stage(releases, "run1", "v0001-aaaa", '{"answer": "clean"}\n'), "v0001-aaaa")
    # A rebuild of the same version whose text now leaks an e-mail address.
    staged = _stage(releases, "run2", "v0001-aaaa",
                    '{"answer": "write to alice.wang@example.com"}\n')
    with pytest.raises(Exception, match="release gate failed"):
        gate_release(str(staged), GateSettings())
    assert not staged.exists()
    assert (releases / "v0001-aaaa" / "samples.jsonl").read_text("utf-8") == '{"answer": "clean"}\n'
    assert latest(releases) == "v0001-aaaa"


def test_the_card_diff_of_a_staged_release_finds_the_published_one(tmp_path: Path) -> None:
    releases = tmp_path / "releases"
    row = '{"sample_id": "s1", "doc_id": "d1", "source": "a.pdf", "question": "q", "answer": "a"}\n'
    promote(_stage(releases, "run1", "v0001-aaaa", row), "v0001-aaaa")
    staged = _stage(releases, "run2", "v0002-bbbb", row.replace('"a"}', '"b"}'))
    diff = diff_against_previous(staged)
    assert diff and diff["from"] == "v0001-aaaa" and diff["to"] == "v0002-bbbb"
